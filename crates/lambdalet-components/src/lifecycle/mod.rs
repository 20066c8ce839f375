//! The lifecycle of a generic component (placeholder; being written).
