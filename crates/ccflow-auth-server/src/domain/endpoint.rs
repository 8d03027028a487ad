//! What an endpoint call ends with: its typed result, or the OAuth error to answer and how to
//! present it, plus what the journal and logs need to know.

use ccflow_protocol::{ClientId, ErrorResponse, RequestError};

/// A request the server refused: the OAuth error and how to present it.
#[derive(Debug)]
pub(crate) struct EndpointError {
    pub(crate) response: ErrorResponse,
    /// The client tried HTTP Basic, so a 401 carries `WWW-Authenticate: Basic` (RFC 6749 §5.2).
    pub(crate) basic_attempted: bool,
}

impl EndpointError {
    /// An error answered as is, without a Basic challenge.
    pub(crate) fn plain(response: ErrorResponse) -> Self {
        Self {
            response,
            basic_attempted: false,
        }
    }
}

impl From<RequestError> for EndpointError {
    fn from(error: RequestError) -> Self {
        Self {
            basic_attempted: error.basic_attempted(),
            response: error.to_error_response(),
        }
    }
}

/// The outcome of one endpoint call plus what the journal and logs need to know.
#[derive(Debug)]
pub(crate) struct Handled<T> {
    pub(crate) result: Result<T, EndpointError>,
    pub(crate) client_id: Option<ClientId>,
}
