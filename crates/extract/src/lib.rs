//! The offline extractor (work in progress).
