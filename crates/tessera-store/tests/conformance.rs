//! The conformance suite: one behaviour, every backend.
//!
//! Every case in `suite/` runs against the memory store, a private standalone
//! `redis-server`, a private 3-master Redis Cluster and a private Sentinel deployment (master,
//! replica, sentinel, reached through a `redis+sentinel://` URL), and over TLS
//! (`rediss://`, certificates made by the `openssl` CLI), and as an ACL user with exactly
//! the rules of `tessera_store::redis::acl_rules`, all started on free loopback ports and
//! killed when the test process ends. Without `redis-server` the Redis runs print a loud
//! notice and pass — unless `TESSERA_REQUIRE_SERVICES=1`, which makes them fail.
//!
//! DO NOT add more test binaries for the store: add cases to `suite/` (each binary is a slow
//! link).
// Tests read the clock: they are an edge.
#![allow(clippy::disallowed_methods)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Test modules share items with `pub`; nothing here is exported.
#![allow(unreachable_pub)]

mod suite;
mod support;

/// For each backend: one `#[tokio::test]` per suite case.
macro_rules! cases {
    ($make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(backend) = $make().await else { return };
                crate::suite::$case(backend.store.clone()).await;
            }
        )*
    };
}

macro_rules! redis_cases {
    ($make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(backend) = $make().await else { return };
                let redis = backend.redis.expect("a redis backend");
                crate::suite::redis_only::$case(redis).await;
            }
        )*
    };
}

macro_rules! conformance {
    ($make:path) => {
        cases!($make;
            create_then_access_is_active_and_listed,
            rotation_makes_successor_current_and_registers_access,
            grace_replay_returns_same_seed_and_registers_access,
            replay_after_grace_is_reuse_and_revokes_family,
            zero_grace_disables_replay,
            concurrent_rotations_yield_one_rotated_and_grace_replays,
            unknown_hash_is_invalid_and_session_survives,
            rotation_of_dead_session_is_invalid,
            replaying_any_older_generation_after_grace_is_reuse_and_revokes_family,
            an_older_generation_is_reuse_even_inside_the_grace_window,
            an_unknown_hash_of_a_generation_not_older_is_invalid_and_changes_nothing,
            grace_replay_with_generations_returns_the_same_successor_and_keeps_the_family,
            binding_wins_over_generation_theft,
            a_session_without_a_generation_rotates_and_detects_from_its_first_rotation,
            access_check_refuses_wrong_session_user_and_expired_tokens,
            denylist_mode_checks_session_version_and_denied_jtis,
            revoke_access_token_in_allowlist_mode_kills_only_that_jti,
            revoke_access_token_in_denylist_mode_kills_only_that_jti,
            token_version_is_raised_never_lowered_on_create,
            revoke_session_kills_its_tokens_and_leaves_others,
            revoke_session_by_refresh_needs_a_token_of_that_session,
            revoke_user_kills_all_sessions_and_bumps_version,
            revoke_user_except_keeps_exactly_one_session,
            idle_timeout_kills_session_unless_refreshed,
            absolute_lifetime_kills_session_even_when_refreshed,
            max_sessions_evicts_oldest_and_their_tokens_die,
            list_sessions_is_oldest_first_and_never_lists_dead_sessions,
            session_dead_at_birth_is_not_stored,
            binding_mismatch_or_missing_is_invalid_and_changes_nothing,
            unbound_session_ignores_the_presented_binding,
            grace_replay_checks_the_binding_too,
            rotation_returns_the_session_attributes,
            long_attributes_round_trip,
            find_access_token_finds_only_own_live_grants,
            live_grants_are_capped_and_the_oldest_revoked,
            among_equal_exps_the_first_registered_grants_go,
            stats_follow_creates_revocations_evictions_theft_and_logout_all,
            events_are_newest_first_paged_and_per_user,
            events_are_trimmed_to_500_and_90_days,
            put_if_absent_writes_once_and_expires,
            concurrent_put_if_absent_has_one_winner,
            take_is_won_by_exactly_one_of_32_concurrent_takers,
            get_and_delete,
            invalid_names_are_refused_and_write_nothing,
            count_attempt_counts_atomically_under_concurrency,
            count_attempt_window_does_not_slide,
            throttle_allows_a_burst_then_refuses_and_refills,
            throttle_cost_zero_peeks_without_consuming,
            concurrent_throttles_never_exceed_the_burst,
            out_of_order_arrivals_get_the_whole_burst_and_no_more,
            refund_gives_back_a_reservation_and_never_more,
            concurrent_reservations_check_at_most_the_burst,
            map_put_get_list_remove_clear,
            map_entries_expire_individually,
            maps_are_isolated_between_users_and_maps,
            a_restored_session_rotates_from_its_current_token_and_lists,
            a_restored_family_refuses_every_older_generation,
            restore_writes_only_when_the_store_has_no_record,
            a_dead_session_is_not_restored_but_the_version_is_raised,
            restored_denied_tokens_stay_denied,
            a_session_the_store_revoked_itself_is_never_restored,
        );
    };
}

mod memory {
    use crate::support::memory;
    conformance!(memory);

    #[tokio::test]
    async fn sweep_drops_dead_sessions_without_being_asked() {
        use tessera_core::ids::UserId;
        use tessera_core::time::Timestamp;
        use tessera_store::SessionStore;
        use tessera_store::memory::{MemoryStore, SWEEP_EVERY};
        let store = MemoryStore::new();
        let t0 = Timestamp::now();
        for _ in 0..10 {
            crate::support::fixtures::open_default(&store, UserId::new(), t0).await;
        }
        assert_eq!(store.stored_sessions(), 10);
        let later = t0.plus(crate::support::fixtures::LIFETIME);
        for _ in 0..SWEEP_EVERY {
            store.list_sessions(UserId::new(), later).await.unwrap();
        }
        assert_eq!(store.stored_sessions(), 0);
    }
    #[tokio::test]
    async fn sweep_drops_expired_ephemeral_records_and_map_entries() {
        use std::time::Duration;
        use tessera_core::ids::UserId;
        use tessera_core::time::Timestamp;
        use tessera_store::memory::{MemoryStore, SWEEP_EVERY};
        use tessera_store::{EphemeralKey, EphemeralStore, Rate, UserMaps};
        let store = MemoryStore::new();
        let t0 = Timestamp::now();
        let minute = Duration::from_secs(60);
        let user = UserId::new();
        let key = |n: &str| EphemeralKey::user(user, n);
        store
            .put_if_absent(&key("v"), b"v", minute, t0)
            .await
            .unwrap();
        store.count_attempt(&key("c"), 3, minute, t0).await.unwrap();
        store
            .throttle(&key("t"), Rate::new(2, minute), 1, t0)
            .await
            .unwrap();
        store
            .map_put(user, "m", "a", b"a", t0.plus(minute), t0)
            .await
            .unwrap();
        store
            .map_put(user, "m", "b", b"b", t0.plus(2 * minute), t0)
            .await
            .unwrap();
        assert_eq!(store.stored_ephemeral(), 5);
        let later = t0.plus(minute);
        for _ in 0..SWEEP_EVERY {
            store.get(&key("nothing"), later).await.unwrap();
        }
        assert_eq!(
            store.stored_ephemeral(),
            1,
            "only map entry b is still live"
        );
    }
}

mod redis_standalone {
    use crate::support::redis_standalone;
    conformance!(redis_standalone);
    redis_cases!(redis_standalone;
        session_hash_stays_compact_with_long_attributes,
        every_key_has_a_ttl_except_the_version,
        keys_of_one_user_share_one_slot,
        flushed_scripts_are_reloaded_transparently,
        redis_ttls_reclaim_dead_state_without_cleanup,
        reconciliation_drops_expired_but_unpruned_sessions,
        background_reconciler_writes_totals,
        stats_report_backend_figures,
        ephemeral_keys_are_named_tagged_and_expire,
        two_stores_share_one_throttle,
        every_revocation_path_publishes_a_notice,
        capped_grants_publish_a_notice_each,
        session_hash_holds_few_grant_fields,
        session_hash_holds_only_the_documented_fields,
        rotation_keeps_the_index_alive_as_long_as_the_session,
    );
}

mod redis_cluster {
    use crate::support::redis_cluster;
    conformance!(redis_cluster);
    redis_cases!(redis_cluster;
        session_hash_stays_compact_with_long_attributes,
        every_key_has_a_ttl_except_the_version,
        keys_of_one_user_share_one_slot,
        flushed_scripts_are_reloaded_transparently,
        redis_ttls_reclaim_dead_state_without_cleanup,
        reconciliation_drops_expired_but_unpruned_sessions,
        background_reconciler_writes_totals,
        stats_report_backend_figures,
        ephemeral_keys_are_named_tagged_and_expire,
        two_stores_share_one_throttle,
        every_revocation_path_publishes_a_notice,
        capped_grants_publish_a_notice_each,
        session_hash_holds_few_grant_fields,
        session_hash_holds_only_the_documented_fields,
        rotation_keeps_the_index_alive_as_long_as_the_session,
    );
}

mod redis_sentinel {
    use crate::support::redis_sentinel;
    conformance!(redis_sentinel);
    redis_cases!(redis_sentinel;
        session_hash_stays_compact_with_long_attributes,
        every_key_has_a_ttl_except_the_version,
        keys_of_one_user_share_one_slot,
        flushed_scripts_are_reloaded_transparently,
        redis_ttls_reclaim_dead_state_without_cleanup,
        reconciliation_drops_expired_but_unpruned_sessions,
        background_reconciler_writes_totals,
        stats_report_backend_figures,
        ephemeral_keys_are_named_tagged_and_expire,
        two_stores_share_one_throttle,
        every_revocation_path_publishes_a_notice,
        capped_grants_publish_a_notice_each,
        session_hash_holds_few_grant_fields,
        session_hash_holds_only_the_documented_fields,
        rotation_keeps_the_index_alive_as_long_as_the_session,
    );
}

mod redis_tls {
    use crate::support::redis_tls;
    conformance!(redis_tls);
}

mod redis_acl {
    use crate::support::redis_acl;
    conformance!(redis_acl);
    redis_cases!(redis_acl;
        session_hash_stays_compact_with_long_attributes,
        every_key_has_a_ttl_except_the_version,
        keys_of_one_user_share_one_slot,
        flushed_scripts_are_reloaded_transparently,
        redis_ttls_reclaim_dead_state_without_cleanup,
        reconciliation_drops_expired_but_unpruned_sessions,
        background_reconciler_writes_totals,
        stats_report_backend_figures,
        ephemeral_keys_are_named_tagged_and_expire,
        two_stores_share_one_throttle,
        every_revocation_path_publishes_a_notice,
        capped_grants_publish_a_notice_each,
        session_hash_holds_few_grant_fields,
        session_hash_holds_only_the_documented_fields,
    );
}
