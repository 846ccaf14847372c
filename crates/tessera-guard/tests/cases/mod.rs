mod deps;
mod failover;
mod failure;
mod http;
mod jwks;
mod revocation;
mod verification;
