//! Cross-process test harnesses.
