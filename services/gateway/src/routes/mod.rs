//! The gateway's HTTP surface: the proxy for `/api/v1/*` and the API documents.

pub mod docs;
pub mod middleware;
pub mod proxy;
