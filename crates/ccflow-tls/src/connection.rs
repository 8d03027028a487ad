//! actix-web's `on_connect` hook for mutual TLS: the certificate a client presented in the
//! handshake, stored in the connection's data for handlers to read.

use std::any::Any;

use actix_tls::accept::rustls_0_23::TlsStream;
use actix_web::dev::Extensions;
use actix_web::rt::net::TcpStream;
use ccflow_protocol::mtls::ClientCertificate;

/// Pass to `HttpServer::on_connect`: on a rustls 0.23 connection (`listen_rustls_0_23`,
/// `bind_rustls_0_23`) whose client presented a certificate, stores the end-entity certificate
/// as a [`ClientCertificate`]; handlers read it with
/// `req.conn_data::<ClientCertificate>()`. Plain TCP connections, and TLS connections without
/// a client certificate, get nothing.
///
/// ```no_run
/// # fn main() -> std::io::Result<()> {
/// use actix_web::{App, HttpRequest, HttpServer, web};
/// use ccflow_protocol::mtls::ClientCertificate;
///
/// # let config: rustls::ServerConfig = unimplemented!();
/// HttpServer::new(|| {
///     App::new().route(
///         "/",
///         web::get().to(|req: HttpRequest| async move {
///             req.conn_data::<ClientCertificate>()
///                 .map_or_else(String::new, |cert| cert.thumbprint().to_owned())
///         }),
///     )
/// })
/// .on_connect(ccflow_tls::on_connect)
/// .bind_rustls_0_23("127.0.0.1:8443", config)?;
/// # Ok(()) }
/// ```
pub fn on_connect(connection: &dyn Any, data: &mut Extensions) {
    let Some(stream) = connection.downcast_ref::<TlsStream<TcpStream>>() else {
        return;
    };
    let (_, session) = stream.get_ref();
    if let Some(leaf) = session.peer_certificates().and_then(<[_]>::first) {
        data.insert(ClientCertificate::from_der(leaf.to_vec()));
    }
}
