//! The behaviour suite. Every case in `suite!` runs once per backend combination; the cases
//! in [`binary`] and [`config_check`] drive the real executable.

mod admin;
mod alerts;
mod bad_input;
mod binary;
mod binary_keys;
mod browser;
mod config_check;
mod durable;
mod durable_races;
mod fault_injection;
mod federated;
mod forged;
mod limits;
mod logout;
mod metrics;
mod mfa;
mod mfa_keys;
mod oauth2;
mod openapi;
mod outage;
mod partial_loss;
mod passkeys;
mod password;
mod proxies;
mod races;
mod refresh;
mod sessions;
mod signin;
mod user_input;

/// Declares each case once per backend: `memory_sqlite::case`, `redis_sqlite::case`, …
macro_rules! suite {
    ($($module:ident :: $case:ident),* $(,)?) => {
        suite!(@backend memory_sqlite, MemorySqlite, $($module::$case),*);
        suite!(@backend redis_sqlite, RedisSqlite, $($module::$case),*);
        suite!(@backend cluster_sqlite, ClusterSqlite, $($module::$case),*);
        suite!(@backend memory_postgres, MemoryPostgres, $($module::$case),*);
        suite!(@backend redis_postgres, RedisPostgres, $($module::$case),*);
    };
    (@backend $name:ident, $variant:ident, $($module:ident :: $case:ident),*) => {
        mod $name {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$module::$case(crate::common::Backend::$variant).await;
                }
            )*
        }
    };
}

suite!(
    durable::a_session_the_store_lost_is_restored_and_nothing_revoked_comes_back,
    durable_races::a_refresh_racing_theft_detection_does_not_keep_the_family_alive,
    durable_races::a_refresh_racing_a_revocation_by_refresh_token_does_not_outlive_it,
    durable_races::a_refresh_racing_an_eviction_does_not_bring_the_evicted_session_back,
    durable_races::revoking_by_the_newest_refresh_token_of_a_lost_session_holds,
    durable_races::a_sign_in_opened_under_a_newer_store_version_than_it_read_is_refused,
    durable_races::concurrent_refreshes_of_a_lost_session_are_both_answered,
    signin::register_normalises_email_and_refuses_duplicates_and_bad_input,
    signin::unknown_email_and_wrong_password_are_indistinguishable,
    signin::login_returns_a_token_pair_that_me_accepts,
    refresh::refresh_rotates_and_grace_replay_returns_the_same_successor,
    refresh::replay_after_grace_revokes_the_session,
    refresh::concurrent_refreshes_yield_one_successor_and_no_theft,
    refresh::unknown_and_malformed_refresh_tokens_are_refused,
    refresh::replaying_any_older_refresh_token_revokes_the_session,
    refresh::a_refresh_token_with_an_altered_generation_or_tag_revokes_nothing,
    logout::logout_revokes_only_that_session,
    logout::logout_all_revokes_every_session_and_bumps_the_version,
    logout::denylist_mode_revokes_like_allowlist,
    logout::a_token_cached_as_verified_is_refused_once_revoked,
    forged::forged_and_out_of_policy_tokens_are_refused,
    bad_input::bad_requests_get_problem_json_never_5xx,
    bad_input::rejections_outside_json_bodies_are_problems_too,
    sessions::sessions_list_parsed_devices_and_ending_one_kills_exactly_it,
    sessions::revoking_one_access_token_leaves_its_session,
    sessions::session_limit_evicts_the_oldest,
    sessions::idle_timeout_and_absolute_lifetime_end_sessions,
    sessions::ending_another_users_session_by_its_id_changes_nothing,
    browser::fingerprint_binding_refuses_a_stolen_token_without_its_cookie,
    browser::cookie_transport_works_with_cookies_alone_and_checks_csrf,
    browser::a_browser_whose_access_token_expired_still_signs_out,
    browser::csrf_values_are_bound_to_their_session,
    browser::cookies_planted_under_an_encoded_or_repeated_name_are_not_read,
    admin::admin_api_needs_the_admin_token_and_bans_hold,
    admin::security_events_are_per_user_newest_first_and_paged,
    limits::failed_sign_ins_lock_the_account_from_that_address_with_retry_after,
    limits::many_honest_sign_ins_from_one_address_are_not_limited,
    limits::wrong_second_factor_codes_are_limited_per_user,
    limits::concurrent_wrong_passwords_get_no_more_checks_than_the_budget,
    limits::concurrent_wrong_codes_get_no_more_checks_than_the_user_budget,
    limits::a_stolen_access_token_is_no_password_or_code_oracle,
    limits::enrolment_and_password_change_spend_the_sign_in_budget,
    limits::wrong_admin_tokens_and_client_secrets_are_limited_per_address,
    limits::ipv6_clients_are_limited_per_64_prefix,
    mfa::totp_enrolment_and_second_factor_sign_in,
    mfa::concurrent_completions_of_one_challenge_open_one_session,
    mfa::trusted_devices_skip_the_second_factor_for_their_user_only,
    mfa::disabling_totp_needs_proof_and_clears_trusted_devices,
    mfa::signing_out_everywhere_forgets_trusted_devices,
    mfa::an_expired_challenge_is_refused_even_with_a_good_code,
    mfa::concurrent_confirmations_confirm_once_and_keep_the_winners_codes,
    mfa::a_challenge_opened_before_a_password_change_or_sign_out_everywhere_cannot_complete,
    mfa_keys::an_unreadable_second_factor_refuses_the_sign_in_and_never_skips_it,
    mfa_keys::an_operator_resets_a_second_factor_and_the_user_is_told,
    mfa_keys::totp_secrets_and_recovery_codes_are_never_cached,
    oauth2::oauth2_introspection_reports_live_tokens_and_everything_else_inactive,
    oauth2::oauth2_endpoints_require_client_authentication,
    oauth2::oauth2_revoking_an_access_token_stops_only_that_token,
    oauth2::oauth2_revoking_a_refresh_token_revokes_its_session,
    oauth2::oauth2_revoking_a_fingerprint_bound_refresh_token_revokes_its_session,
    oauth2::oauth2_a_forged_refresh_token_revokes_nothing,
    oauth2::oauth2_revocation_answers_200_for_unknown_tokens_and_400_without_one,
    oauth2::oauth2_metadata_describes_the_endpoints,
    password::password_reset_by_mail_sets_the_password_and_revokes_every_session,
    password::forgot_password_answers_alike_for_known_unknown_and_malformed_emails,
    password::reset_tokens_are_bound_to_their_user_and_refuse_forgeries,
    password::reset_tokens_expire,
    password::concurrent_resets_with_one_token_have_exactly_one_winner,
    password::password_change_needs_the_current_password_and_keeps_only_the_caller,
    races::a_ban_racing_sign_ins_leaves_no_live_session,
    races::a_password_change_racing_sign_ins_with_the_old_password_keeps_only_the_caller,
    races::a_ban_racing_second_factor_completions_leaves_no_live_session,
    races::a_password_reset_racing_sign_ins_with_the_old_password_leaves_none,
    outage::a_reset_whose_revocation_fails_changes_nothing_until_the_retry,
    outage::a_reset_failing_after_the_password_write_leaves_no_old_session,
    outage::a_change_whose_revocation_fails_changes_nothing_until_the_retry,
    outage::a_session_that_outlived_a_ban_is_refused_at_refresh,
    metrics::metrics_count_sign_ins_refreshes_reuse_and_revocations_by_route_template,
    proxies::behind_a_trusted_proxy_each_forwarded_client_has_its_own_address,
    proxies::without_trusted_proxies_forwarding_headers_are_ignored,
    user_input::an_impossible_trusted_device_id_is_404_not_an_outage,
);
