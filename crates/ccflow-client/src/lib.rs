//! Client SDK for the OAuth 2.0 Client Credentials grant. Not implemented yet: see the issue "ccflow-client".
