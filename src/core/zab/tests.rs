//! Single Zab state machines driven by hand; whole ensembles under faults
//! are in `crate::sim` (tests/zab_sim.rs).

use super::*;

fn entry(zxid: Zxid) -> Entry {
    Entry {
        zxid,
        data: Arc::new(vec![1, 2, 3]),
    }
}

fn run_until<F: Fn(&Zab) -> bool>(z: &mut Zab, mut now: i64, done: F) -> (i64, Vec<Action>) {
    let mut actions = z.take_actions();
    for _ in 0..1000 {
        if done(z) {
            return (now, actions);
        }
        now += 10;
        z.tick(now);
        actions.extend(z.take_actions());
    }
    panic!("condition never reached: {}", z.describe());
}

#[test]
fn zxid_is_epoch_and_counter() {
    let z = make_zxid(7, 42);
    assert_eq!(z, (7i64 << 32) | 42);
    assert_eq!(epoch_of(z), 7);
    assert_eq!(counter_of(z), 42);
    assert_eq!(epoch_of(make_zxid(u32::MAX >> 1, u32::MAX)), u32::MAX >> 1);
}

#[test]
fn an_ensemble_of_one_leads_a_new_epoch_and_commits_on_its_own_fsync() {
    let cfg = Config::new(1, vec![1], vec![], 100);
    let rec = Recovered {
        accepted_epoch: 3,
        accepted_from: 1,
        current_epoch: 3,
        base: 0,
        entries: vec![entry(make_zxid(3, 1)), entry(make_zxid(3, 2))],
        applied: make_zxid(3, 1),
    };
    let mut z = Zab::new(cfg, rec, 0);
    let (now, actions) = run_until(&mut z, 0, |z| z.role() != Role::Looking);
    assert_eq!(z.role(), Role::Leading { epoch: 4 });
    // The unapplied tail is delivered to the state machine on taking the lead.
    assert!(actions.contains(&Action::Deliver(entry(make_zxid(3, 2)))));
    assert!(actions.contains(&Action::Committed(make_zxid(3, 2))));
    let zxid = z
        .propose(b"x".to_vec(), now)
        .expect("an established leader proposes");
    assert_eq!(zxid, make_zxid(4, 1));
    assert!(!z.take_actions().contains(&Action::Committed(zxid)));
    z.durable(zxid, now);
    assert_eq!(z.take_actions(), vec![Action::Committed(zxid)]);
    assert_eq!(z.committed(), zxid);
}

#[test]
fn a_follower_refuses_an_epoch_older_than_it_accepted() {
    let cfg = Config::new(2, vec![1, 2, 3], vec![], 100);
    let rec = Recovered {
        accepted_epoch: 5,
        accepted_from: 3,
        current_epoch: 4,
        ..Recovered::default()
    };
    let mut z = Zab::new(cfg, rec, 0);
    z.take_actions();
    // Servers 1 and 3 say 1 leads: follow it.
    let v = Vote {
        epoch: 4,
        zxid: 0,
        leader: 1,
    };
    z.on_message(
        1,
        Msg::Vote {
            round: 1,
            vote: v,
            state: PeerState::Leading,
        },
        0,
    );
    z.on_message(
        3,
        Msg::Vote {
            round: 1,
            vote: v,
            state: PeerState::Following,
        },
        0,
    );
    z.tick(10);
    let sent = z.take_actions();
    assert!(sent.contains(&Action::Send {
        to: 1,
        msg: Msg::FollowerInfo {
            accepted_epoch: 5,
            observer: false
        }
    }));
    z.on_message(1, Msg::LeaderInfo { epoch: 4 }, 20);
    assert_eq!(z.leader(), None, "an older epoch sends it back to looking");
    // The same epoch from another leader joins without counting.
    z.on_message(
        1,
        Msg::Vote {
            round: 9,
            vote: v,
            state: PeerState::Leading,
        },
        30,
    );
    z.on_message(
        3,
        Msg::Vote {
            round: 9,
            vote: v,
            state: PeerState::Following,
        },
        30,
    );
    z.tick(40);
    z.take_actions();
    z.on_message(1, Msg::LeaderInfo { epoch: 5 }, 50);
    let acks: Vec<Action> = z
        .take_actions()
        .into_iter()
        .filter(|a| {
            matches!(
                a,
                Action::Send {
                    msg: Msg::AckEpoch { .. },
                    ..
                }
            )
        })
        .collect();
    assert_eq!(
        acks,
        vec![Action::Send {
            to: 1,
            msg: Msg::AckEpoch {
                counts: false,
                current_epoch: 4,
                last_zxid: 0,
                applied: 0
            }
        }]
    );
}
