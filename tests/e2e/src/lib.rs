//! End-to-end tests of Mercato live in `tests/`; this crate has no code of
//! its own. They start the real `mercato` binary and talk to it over HTTP.
