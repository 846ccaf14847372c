//! Recent security events: order, limit, paging, trimming, retention, isolation.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;
use tessera_store::*;

use crate::support::fixtures::*;

pub async fn events_are_newest_first_paged_and_per_user(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let sec = |k: u64| at(t0, Duration::from_secs(k));
    let (alice, bob) = (UserId::new(), UserId::new());
    // Pushed out of time order on purpose.
    for k in [3u64, 1, 5, 2, 4] {
        store
            .push_event(alice, event(&format!("a{k}"), sec(k)), sec(10))
            .await
            .unwrap();
    }
    store
        .push_event(bob, event("b1", sec(1)), sec(10))
        .await
        .unwrap();
    let now = sec(10);
    let all = store.recent_events(alice, 100, None, now).await.unwrap();
    assert_eq!(ids(&all), ["a5", "a4", "a3", "a2", "a1"]);
    assert_eq!(
        all[0],
        event("a5", sec(5)),
        "id, time and payload round-trip"
    );
    // Limit, then paging with `before` (exclusive).
    let page = store.recent_events(alice, 2, None, now).await.unwrap();
    assert_eq!(ids(&page), ["a5", "a4"]);
    let page = store
        .recent_events(alice, 2, Some(page[1].at), now)
        .await
        .unwrap();
    assert_eq!(ids(&page), ["a3", "a2"]);
    let page = store
        .recent_events(alice, 2, Some(page[1].at), now)
        .await
        .unwrap();
    assert_eq!(ids(&page), ["a1"]);
    assert!(
        store
            .recent_events(alice, 2, Some(sec(1)), now)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .recent_events(alice, 0, None, now)
            .await
            .unwrap()
            .is_empty()
    );
    // Isolation.
    assert_eq!(
        ids(&store.recent_events(bob, 100, None, now).await.unwrap()),
        ["b1"]
    );
    assert!(
        store
            .recent_events(UserId::new(), 100, None, now)
            .await
            .unwrap()
            .is_empty()
    );
    // Odd ids and payloads round-trip.
    let odd = SecurityEventRecord {
        id: "12:x:y".to_owned(),
        at: sec(6),
        payload: r#"{"note":"ünï 3:abc"}"#.to_owned(),
    };
    store.push_event(bob, odd.clone(), now).await.unwrap();
    assert_eq!(
        store.recent_events(bob, 1, None, now).await.unwrap(),
        vec![odd]
    );
}

pub async fn events_are_trimmed_to_500_and_90_days(store: Arc<dyn StateStore>) {
    let store = &*store;
    let t0 = Timestamp::now();
    let user = UserId::new();
    let total = EVENT_MAX_PER_USER + 10;
    for k in 0..total {
        let when = at(t0, Duration::from_millis(k as u64));
        store
            .push_event(user, event(&format!("e{k:04}"), when), when)
            .await
            .unwrap();
    }
    let now = at(t0, Duration::from_secs(1));
    let kept = store
        .recent_events(user, usize::MAX, None, now)
        .await
        .unwrap();
    assert_eq!(kept.len(), EVENT_MAX_PER_USER);
    assert_eq!(kept[0].id, format!("e{:04}", total - 1));
    assert_eq!(
        kept[EVENT_MAX_PER_USER - 1].id,
        "e0010",
        "the 10 oldest trimmed"
    );

    // Retention: 90 days after an event it is gone, even before anything is pushed.
    let other = UserId::new();
    store.push_event(other, event("old", t0), t0).await.unwrap();
    let edge = t0.plus(EVENT_RETENTION);
    assert!(
        store
            .recent_events(other, 10, None, edge)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .recent_events(other, 10, None, edge.minus(Duration::from_millis(1)))
            .await
            .unwrap()
            .len(),
        1
    );
    // A later push trims it for good.
    store
        .push_event(other, event("new", edge), edge)
        .await
        .unwrap();
    assert_eq!(
        ids(&store
            .recent_events(other, 10, None, edge.minus(Duration::from_millis(1)))
            .await
            .unwrap()),
        ["new"]
    );
}
