//! CrownDB's network server: the memcached and Redis protocols over one CrownDB store.

pub mod memcache;
pub mod resp;
