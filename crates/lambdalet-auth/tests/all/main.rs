//! lambdalet-auth's integration tests, one binary (see CONVENTIONS.md): the official
//! SigV4 vectors, signatures made by botocore, and properties of the verifier.

mod botocore;
mod props;
mod suite;
