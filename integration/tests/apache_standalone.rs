//! The live client suite (`integration::suite`) against one standalone Apache ZooKeeper
//! server, shared by every test of this file (each test works under its own base path).
//!
//! Skipped (with `SKIPPED: <reason>` on stderr) when Apache ZooKeeper is not installed.

use std::future::Future;
use std::time::Duration;

use integration::apache::ApacheEnsemble;
use integration::suite;
use tokio::sync::OnceCell;

/// Bound for one whole test.
const TEST_BOUND: Duration = Duration::from_secs(120);

/// The shared server, started by the first test that needs it and killed (its directory
/// removed) when the test process exits.
async fn server() -> &'static ApacheEnsemble {
    static SERVER: OnceCell<&'static ApacheEnsemble> = OnceCell::const_new();
    SERVER
        .get_or_init(|| async {
            let zk = ApacheEnsemble::start_standalone(suite::apache_options())
                .await
                .expect("start the shared standalone Apache ZooKeeper");
            zk.into_static().expect("keep the shared server")
        })
        .await
}

async fn bounded(body: impl Future<Output = ()>) {
    if tokio::time::timeout(TEST_BOUND, body).await.is_err() {
        panic!("test exceeded its {TEST_BOUND:?} bound");
    }
}

/// One `#[tokio::test]` per suite function, grouped in a module per suite topic.
macro_rules! suite_tests {
    ($($topic:ident { $($test:ident),* $(,)? })*) => {$(
        mod $topic {
            $(
                #[tokio::test]
                async fn $test() {
                    let _install = integration::require_apache!();
                    super::bounded(async {
                        integration::suite::$topic::$test(super::server().await).await
                    })
                    .await;
                }
            )*
        }
    )*};
}

suite_tests! {
    crud {
        create_read_update_delete,
        create2_returns_the_stat,
        versions_are_checked,
        children_and_parent_stat,
        data_round_trips,
        unicode_paths,
        root_and_system_nodes,
    }
    create_modes {
        persistent_outlives_its_session,
        ephemeral_belongs_to_its_session,
        sequential_suffix_counts_child_creations,
        sequential_names_follow_creation_order,
        container_is_reaped_after_its_last_child,
        ttl_node_expires_when_childless,
        ttl_options_are_checked_by_the_client,
        ephemerals_cannot_have_children,
    }
    watches {
        data_watch_fires_on_change_and_delete,
        data_watch_ignores_children_acls_and_failed_writes,
        exist_watch_fires_on_create_change_and_delete,
        child_watch_fires_on_child_changes_only,
        watch_event_comes_before_the_new_data,
        one_shot_watches_fire_once_for_every_watcher,
        events_need_read_permission,
        persistent_watch_sees_node_and_child_events,
        persistent_watch_on_a_missing_node,
        recursive_watch_sees_the_whole_subtree,
        remove_watches_by_kind,
        check_watches_reports_server_side_watches,
        watch_paths_under_a_chroot,
        watches_end_when_the_session_closes,
        many_watches_fire,
    }
    acl {
        each_permission_guards_its_operations,
        digest_acl_needs_the_password,
        auth_scheme_uses_the_connection_identities,
        ip_acl_matches_the_client_address,
        acl_entries_add_up,
        set_acl_checks_the_acl_version,
        invalid_acls_are_refused,
        super_user_passes_every_acl,
        who_am_i_lists_the_identities,
        acl_on_every_create_mode,
        add_auth_while_requests_are_in_flight,
    }
    multi {
        transaction_results,
        failed_transaction_applies_nothing,
        empty_transaction,
        transaction_fires_watches,
        transaction_under_a_chroot,
        multi_read_mixes_successes_and_failures,
    }
    errors {
        data_errors,
        bad_arguments,
        reconfig_disabled,
        quota_exceeded,
        invalid_paths_are_rejected_by_the_client,
        bad_connect_strings,
        connection_loss_fails_in_flight_requests,
        auth_failed_ends_the_session,
        closed_after_close,
    }
    session {
        session_timeout_is_negotiated,
        close_deletes_the_ephemerals,
        dropping_the_last_handle_closes_the_session,
        expiry_ends_the_session,
        pipelined_calls_keep_their_order,
        sync_then_read_sees_earlier_writes,
        get_ephemerals_lists_this_session_only,
        all_children_number_counts_descendants,
        chroot_prefixes_and_strips_paths,
    }
    reconnect {
        session_survives_a_dropped_connection,
        watches_replay_changes_made_while_disconnected,
        many_watches_are_replayed,
        credentials_wait_for_a_connection,
    }
}

/// Unimplemented needs a server of its own, with TTL nodes disabled.
#[tokio::test]
async fn errors_ttl_is_unimplemented_when_disabled() {
    let _install = integration::require_apache!();
    bounded(async {
        let mut opts = suite::apache_options();
        opts.extended_types = false;
        let zk = ApacheEnsemble::start_standalone(opts)
            .await
            .expect("start a standalone server without TTL nodes");
        suite::errors::ttl_is_unimplemented_when_disabled(&zk).await;
    })
    .await;
}
