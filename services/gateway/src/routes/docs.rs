//! `GET /api/v1/openapi.json` (OpenAPI 3.1, a static document shipped in the binary)
//! and `GET /api/docs`, a self-contained page that renders it and loads nothing
//! from elsewhere.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

pub const OPENAPI_JSON: &str = include_str!("../../static/openapi.json");
const DOCS_HTML: &str = include_str!("../../static/docs.html");

/// Scripts and styles are inline; the page may talk to this origin only.
const DOCS_CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; \
    style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'";

async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(OPENAPI_JSON)
}

async fn docs() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, DOCS_CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(DOCS_HTML)
}

async fn docs_slash() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/api/docs"))
        .finish()
}

/// Mounts both; register before the `/api/v1/{tail}` proxy route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/openapi.json", web::get().to(openapi))
        .route("/api/docs", web::get().to(docs))
        .route("/api/docs/", web::get().to(docs_slash));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_document_is_valid_json_for_openapi_3_1() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI_JSON).expect("valid JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        for path in [
            "/auth/signup",
            "/auth/login",
            "/auth/refresh",
            "/auth/logout",
            "/users/me",
            "/doctors",
            "/patients/me/doctor",
            "/doctors/me/patients",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} missing");
        }
    }

    #[test]
    fn openapi_document_lists_the_notes_service_operations() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI_JSON).expect("valid JSON");
        let paths = &doc["paths"];
        for (path, method, success) in [
            ("/patients/{patient_id}/notes", "post", "202"),
            ("/patients/{patient_id}/notes", "get", "200"),
            ("/patients/{patient_id}/notes/{note_id}", "get", "200"),
            ("/patients/{patient_id}/notes/access-log", "get", "200"),
        ] {
            let operation = &paths[path][method];
            assert!(operation.is_object(), "{method} {path} missing");
            assert!(
                operation["responses"][success].is_object(),
                "{method} {path}"
            );
            let concrete = path.replace("{patient_id}", "42").replace("{note_id}", "7");
            assert_eq!(
                crate::routing::resolve(&concrete).map(|r| r.upstream),
                Some(crate::routing::Upstream::Notes),
                "{path}"
            );
        }
        let post = &paths["/patients/{patient_id}/notes"]["post"];
        assert_eq!(post["parameters"][1]["name"], "Idempotency-Key");
        for status in ["400", "401", "403", "404", "413", "422"] {
            assert!(post["responses"][status].is_object(), "POST notes {status}");
        }
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["NoteStatus"]["enum"],
            serde_json::json!(["processing", "processed", "failed"])
        );
        assert_eq!(
            schemas["NoteRequest"]["properties"]["text"]["maxLength"],
            20000
        );
    }

    #[test]
    fn openapi_document_lists_the_reminder_service_operations() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI_JSON).expect("valid JSON");
        let paths = &doc["paths"];
        for (path, method) in [
            ("/patients/{patient_id}/actionable-steps", "get"),
            ("/checklist/{item_id}/complete", "post"),
            ("/patients/{patient_id}/reminders", "get"),
            ("/reminders/{reminder_id}/check-in", "post"),
            ("/patients/{patient_id}/adherence", "get"),
            ("/notifications/stream", "get"),
        ] {
            let operation = &paths[path][method];
            assert!(operation.is_object(), "{method} {path} missing");
            assert!(operation["responses"]["200"].is_object(), "{method} {path}");
            // Every one of them is routed to the reminder-service by the gateway.
            let concrete = path
                .replace("{patient_id}", "42")
                .replace("{item_id}", "7")
                .replace("{reminder_id}", "7");
            assert_eq!(
                crate::routing::resolve(&concrete).map(|r| r.upstream),
                Some(crate::routing::Upstream::Reminders),
                "{path}"
            );
        }

        let status = &paths["/patients/{patient_id}/reminders"]["get"]["parameters"][1];
        assert_eq!(status["name"], "status");
        let statuses = &doc["components"]["schemas"]["ReminderStatus"]["enum"];
        assert_eq!(
            *statuses,
            serde_json::json!(["upcoming", "due", "done", "missed", "cancelled"])
        );

        let check_in = &paths["/reminders/{reminder_id}/check-in"]["post"]["responses"];
        let conflict = check_in["409"]["description"].as_str().expect("409");
        for code in ["not_yet_due", "already_missed", "reminder_cancelled"] {
            assert!(conflict.contains(code), "{code} not documented");
        }
        assert!(check_in["403"].is_object() && check_in["404"].is_object());

        let stream = &paths["/notifications/stream"]["get"];
        assert!(stream["responses"]["200"]["content"]["text/event-stream"].is_object());
        assert_eq!(stream["parameters"][0]["name"], "Last-Event-ID");
        assert_eq!(stream["parameters"][0]["in"], "header");

        let schemas = &doc["components"]["schemas"];
        let required = |name: &str| -> Vec<String> {
            serde_json::from_value(schemas[name]["required"].clone()).expect(name)
        };
        assert_eq!(
            required("Reminder"),
            [
                "id",
                "step_id",
                "title",
                "due_at",
                "status",
                "checked_in_at",
                "grace_ends_at"
            ]
        );
        assert_eq!(
            required("ChecklistItem"),
            ["id", "title", "status", "source"]
        );
        assert_eq!(
            required("PlanStep"),
            [
                "id",
                "title",
                "schedule",
                "duration",
                "status",
                "next_due_at",
                "source"
            ]
        );
        let adherence = &schemas["Adherence"]["properties"]["plan"]["items"];
        assert_eq!(
            adherence["properties"]["remaining"]["type"],
            serde_json::json!(["integer", "null"])
        );
    }

    #[test]
    fn every_reference_resolves() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI_JSON).expect("valid JSON");
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert!(!refs.is_empty());
        for reference in refs {
            let pointer = reference.trim_start_matches('#');
            assert!(doc.pointer(pointer).is_some(), "dangling {reference}");
        }
    }

    fn collect_refs(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("$ref", serde_json::Value::String(r)) => out.push(r.clone()),
                        _ => collect_refs(v, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }
}
