DROP TABLE outbox;
DROP TABLE login_failures;
DROP TABLE refresh_tokens;
DROP TABLE refresh_token_families;
DROP TABLE assignments;
DROP TABLE doctor_profiles;
DROP TABLE users;
