//! loom models of the group commit behind `record::Wal`: the first thread
//! that needs a sync leads the commit of everything queued, the others
//! wait for it; a leader may gather (wait for threads the last commit
//! released); a background thread commits records nobody syncs; close and
//! failures wake everyone.
#![cfg(loom)]

use std::io;

use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use mwsr::record::{LoomCommit, LoomGroup, loom_records};

/// What the committer has made durable, commit by commit; and a condvar
/// to wait for commits with.
#[derive(Default)]
struct Durable {
    commits: Mutex<Vec<Vec<Vec<u8>>>>,
    changed: Condvar,
    /// How many times `finish` ran.
    finished: Mutex<usize>,
}

impl Durable {
    fn records(&self) -> Vec<Vec<u8>> {
        self.commits.lock().unwrap().concat()
    }

    fn holds(&self, record: &[u8]) -> bool {
        self.records().iter().any(|r| r == record)
    }

    fn finished(&self) -> usize {
        *self.finished.lock().unwrap()
    }
}

/// Records its commits; fails the commit number `fail_at` (from 0).
struct Committer {
    durable: Arc<Durable>,
    fail_at: Option<usize>,
}

impl LoomCommit for Committer {
    fn commit(&mut self, batch: &[u8], records: u64) -> io::Result<u64> {
        assert_eq!(self.durable.finished(), 0, "a commit after finish");
        let got: Vec<Vec<u8>> = loom_records(batch).map(<[u8]>::to_vec).collect();
        assert_eq!(got.len() as u64, records, "the count matches the batch");
        // A commit takes long: others run meanwhile, with no preemption
        // spent on it.
        thread::yield_now();
        let mut commits = self.durable.commits.lock().unwrap();
        if self.fail_at == Some(commits.len()) {
            return Err(io::Error::other("disk on fire"));
        }
        commits.push(got);
        self.durable.changed.notify_all();
        Ok(batch.len() as u64)
    }

    fn finish(&mut self) -> io::Result<()> {
        *self.durable.finished.lock().unwrap() += 1;
        Ok(())
    }
}

fn group(capacity: usize, fail_at: Option<usize>) -> (Arc<LoomGroup<Committer>>, Arc<Durable>) {
    let durable = Arc::new(Durable::default());
    let committer = Committer {
        durable: durable.clone(),
        fail_at,
    };
    let group = LoomGroup::start(committer, capacity, "wal").unwrap();
    (Arc::new(group), durable)
}

/// Two threads append_sync at once: each returns only once its record is
/// committed; every record is committed exactly once; the count of commits
/// is what `stats` says.
#[test]
fn two_syncs_each_return_durable() {
    loom::model(|| {
        let (group, durable) = group(64, None);
        let other = {
            let (group, durable) = (group.clone(), durable.clone());
            thread::spawn(move || {
                group.append_sync(&[b"b".as_slice()]).unwrap();
                assert!(durable.holds(b"b"), "b returned before it was durable");
            })
        };
        group.append_sync(&[b"a".as_slice()]).unwrap();
        assert!(durable.holds(b"a"), "a returned before it was durable");
        other.join().unwrap();
        group.close().unwrap();
        let mut all = durable.records();
        all.sort();
        assert_eq!(all, [b"a".to_vec(), b"b".to_vec()]);
        let stats = group.stats();
        assert_eq!(stats.records, 2);
        assert_eq!(stats.syncs as usize, durable.commits.lock().unwrap().len());
    });
}

/// Three threads append_sync at once: records that queue while a commit
/// is under way go with a later one, and each sync returns only once its
/// own record is durable, whichever thread led it.
#[test]
fn three_syncs_each_return_durable() {
    loom::model(|| {
        let (group, durable) = group(64, None);
        let others: Vec<_> = [b"b", b"c"]
            .map(|record| {
                let (group, durable) = (group.clone(), durable.clone());
                thread::spawn(move || {
                    group.append_sync(&[record.as_slice()]).unwrap();
                    assert!(durable.holds(record), "returned before it was durable");
                })
            })
            .into_iter()
            .collect();
        group.append_sync(&[b"a".as_slice()]).unwrap();
        assert!(durable.holds(b"a"), "a returned before it was durable");
        others.into_iter().for_each(|t| t.join().unwrap());
        group.close().unwrap();
        assert_eq!(durable.records().len(), 3);
    });
}

/// A thread that appends twice and syncs while another syncs its own:
/// the sync covers both earlier appends, in order, whoever leads.
#[test]
fn sync_covers_the_callers_earlier_appends() {
    loom::model(|| {
        let (group, durable) = group(64, None);
        let other = {
            let group = group.clone();
            thread::spawn(move || group.append_sync(&[b"x".as_slice()]).unwrap())
        };
        group.append(&[b"1".as_slice()]).unwrap();
        group.append(&[b"2".as_slice(), b"2"]).unwrap(); // parts join into one record
        group.sync().unwrap();
        let all = durable.records();
        let at = |r: &[u8]| all.iter().position(|x| x == r).expect("durable");
        assert!(at(b"1") < at(b"22"), "{all:?}");
        other.join().unwrap();
        group.close().unwrap();
    });
}

/// A plain append becomes durable with nobody syncing: the background
/// thread commits it (if it did not, this model would deadlock).
#[test]
fn the_background_thread_commits_unsynced_appends() {
    loom::model(|| {
        let (group, durable) = group(64, None);
        group.append(&[b"lonely".as_slice()]).unwrap();
        let mut commits = durable.commits.lock().unwrap();
        while commits.is_empty() {
            commits = durable.changed.wait(commits).unwrap();
        }
        assert_eq!(commits.concat(), [b"lonely".to_vec()]);
        drop(commits);
        group.close().unwrap();
    });
}

/// Appends that find the queue full wait for a commit (or lead one):
/// with room for one record, two writers and the background thread still
/// get every record committed, each alone.
#[test]
fn a_full_queue_waits_for_room() {
    loom::model(|| {
        let (group, durable) = group(5, None); // one 1-byte record and its prefix
        let other = {
            let group = group.clone();
            thread::spawn(move || {
                group.append(&[b"b".as_slice()]).unwrap();
                group.append(&[b"c".as_slice()]).unwrap();
            })
        };
        group.append_sync(&[b"a".as_slice()]).unwrap();
        other.join().unwrap();
        group.close().unwrap();
        let commits = durable.commits.lock().unwrap();
        assert!(commits.iter().all(|c| c.len() == 1), "{commits:?}");
        let mut all = commits.concat();
        all.sort();
        assert_eq!(all, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    });
}

/// Close racing an append_sync: the sync either made it (and is durable)
/// or was refused as closed; close commits everything it accepted and
/// joins the background thread; later calls are refused.
#[test]
fn close_races_a_sync() {
    loom::model(|| {
        let (group, durable) = group(64, None);
        let other = {
            let (group, durable) = (group.clone(), durable.clone());
            thread::spawn(move || match group.append_sync(&[b"late".as_slice()]) {
                Ok(()) => assert!(durable.holds(b"late")),
                Err(e) => assert_eq!(e.kind(), io::ErrorKind::BrokenPipe, "{e}"),
            })
        };
        group.append(&[b"early".as_slice()]).unwrap();
        group.close().unwrap();
        assert!(durable.holds(b"early"), "close commits what it accepted");
        other.join().unwrap();
        let e = group.append(&[b"after".as_slice()]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        group.close().unwrap(); // idempotent
        assert_eq!(durable.finished(), 1, "finish runs once");
    });
}

/// Two closes race an append: `finish` runs once, after every commit (the
/// committer asserts that none follows it), and neither close returns
/// before it ran.
#[test]
fn two_closes_race_an_append_and_finish_once() {
    loom::model(|| {
        let (group, durable) = group(64, None);
        let closer = {
            let (group, durable) = (group.clone(), durable.clone());
            thread::spawn(move || {
                group.close().unwrap();
                assert_eq!(durable.finished(), 1, "close returned before finish");
            })
        };
        match group.append(&[b"racing".as_slice()]) {
            Ok(()) => {
                group.close().unwrap();
                assert!(durable.holds(b"racing"), "close commits what it accepted");
            }
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::BrokenPipe, "{e}");
                group.close().unwrap();
            }
        }
        assert_eq!(durable.finished(), 1);
        closer.join().unwrap();
        assert_eq!(durable.finished(), 1);
    });
}

/// The first commit fails while two syncs race: neither hangs, neither
/// returns Ok for a record that was not committed, and the failure sticks.
#[test]
fn a_failed_commit_wakes_every_waiter_and_sticks() {
    loom::model(|| {
        let (group, durable) = group(64, Some(0));
        let other = {
            let (group, durable) = (group.clone(), durable.clone());
            thread::spawn(move || {
                if group.append_sync(&[b"b".as_slice()]).is_ok() {
                    assert!(durable.holds(b"b"));
                }
            })
        };
        if group.append_sync(&[b"a".as_slice()]).is_ok() {
            assert!(durable.holds(b"a"));
        }
        other.join().unwrap();
        assert!(
            group.append(&[b"c".as_slice()]).is_err(),
            "the failure is sticky"
        );
        assert!(group.sync().is_err());
        let e = group.close().unwrap_err();
        assert!(e.to_string().contains("disk on fire"), "{e}");
        assert!(!durable.holds(b"c"));
    });
}

/// Threads that sync in a loop: after the first commits, a would-be
/// leader gathers (waits for the threads the last commit released) while
/// the others wait; nobody hangs, and every record is durable when its
/// sync returns.
#[test]
fn looping_syncs_gather_and_never_hang() {
    loom::model(|| {
        let (group, durable) = group(64, None);
        let other = {
            let (group, durable) = (group.clone(), durable.clone());
            thread::spawn(move || {
                for record in [&b"b1"[..], b"b2"] {
                    group.append_sync(&[record]).unwrap();
                    assert!(durable.holds(record));
                }
            })
        };
        for record in [&b"a1"[..], b"a2"] {
            group.append_sync(&[record]).unwrap();
            assert!(durable.holds(record));
        }
        other.join().unwrap();
        group.close().unwrap();
        let all = durable.records();
        let at = |r: &[u8]| all.iter().position(|x| x == r).unwrap();
        assert!(at(b"a1") < at(b"a2") && at(b"b1") < at(b"b2"), "{all:?}");
        assert_eq!(all.len(), 4);
    });
}
