//! spawn_app() and what tests do with a running service.
