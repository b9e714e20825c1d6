//! watch (in progress).
