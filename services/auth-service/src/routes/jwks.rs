use actix_web::{web, HttpResponse};

use crate::state::AppState;

/// The public keys that verify access tokens.
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "public, max-age=300"))
        .json(&state.issuer.keys().jwks)
}
