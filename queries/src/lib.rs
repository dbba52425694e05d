//! costlake-queries
