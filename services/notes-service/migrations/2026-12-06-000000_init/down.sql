DROP TABLE outbox;
DROP TABLE users;
DROP TABLE access_log;
DROP TABLE idempotency_keys;
DROP TABLE notes;
