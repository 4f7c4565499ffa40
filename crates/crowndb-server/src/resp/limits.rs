//! The size limits a request parser enforces, with Redis 7's defaults.

/// Size limits on client requests. Each is checked on declared sizes before anything is
/// allocated for them, and on buffered bytes as they arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest bulk argument accepted, in bytes: Redis's `proto-max-bulk-len`. A longer `$<len>`
    /// is `invalid bulk length`. Default 512 MiB. Raising it lets one request hold that much
    /// memory while it arrives.
    pub max_bulk_len: usize,
    /// Longest line buffered without its terminator, in bytes: Redis's `PROTO_INLINE_MAX_SIZE`
    /// (fixed at 64 KiB there). Bounds an inline request still waiting for its newline and a
    /// `*`/`$` header line still waiting for its CR (`too big inline request`, `too big mbulk
    /// count string`, `too big bulk count string`). A complete inline line may be longer.
    /// Default 64 KiB.
    pub max_inline_len: usize,
    /// Largest argument count of a multibulk request: Redis's `INT_MAX` (not configurable
    /// there). A larger `*<count>` is `invalid multibulk length`. The count is never used to
    /// allocate more than room for 1024 arguments up front. Default 2^31 - 1.
    pub max_multibulk_len: usize,
    /// Most unparsed bytes a client may have buffered, in bytes: Redis's
    /// `client-query-buffer-limit`. Beyond it the connection is closed without a reply.
    /// Default 1 GiB. Before authentication the limit is at most 1 MiB, as in Redis.
    pub max_query_buffer: usize,
}

/// Largest argument count accepted from a client that must still authenticate.
pub const UNAUTHENTICATED_MAX_MULTIBULK_LEN: usize = 10;
/// Largest bulk argument accepted from a client that must still authenticate.
pub const UNAUTHENTICATED_MAX_BULK_LEN: usize = 16 * 1024;
/// Largest query buffer allowed to a client that must still authenticate.
pub const UNAUTHENTICATED_MAX_QUERY_BUFFER: usize = 1024 * 1024;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_inline_len: 64 * 1024,
            max_multibulk_len: i32::MAX as usize,
            max_query_buffer: 1024 * 1024 * 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_redis_7() {
        let limits = Limits::default();
        assert_eq!(limits.max_bulk_len, 536_870_912);
        assert_eq!(limits.max_inline_len, 65_536);
        assert_eq!(limits.max_multibulk_len, 2_147_483_647);
        assert_eq!(limits.max_query_buffer, 1_073_741_824);
    }
}
