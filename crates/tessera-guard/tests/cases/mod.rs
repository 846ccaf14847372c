mod deps;
mod failure;
mod http;
mod jwks;
mod revocation;
mod topologies;
mod verification;
