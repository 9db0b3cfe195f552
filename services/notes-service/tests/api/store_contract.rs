//! One contract for every `NoteStore` adapter: PostgreSQL always, MongoDB whenever
//! `TEST_MONGODB_URI` is set (the run says plainly when it skipped it).
