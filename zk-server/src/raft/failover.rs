//! Fast failover: a follower that loses a connection from its leader checks at once whether
//! the leader's process is gone and, if it is, ends the leader lease and campaigns.
//!
//! Without this, survivors notice a dead leader only when heartbeats stop, and openraft's
//! leader lease (the election timeout's upper bound) then makes them refuse votes for a whole
//! extra timeout: 3–4 s with tickTime 2000. Apache ZooKeeper's followers see the leader's
//! socket close and elect at once; this does the same:
//!
//! 1. A peer connection from the current leader ends (EOF or error).
//! 2. Probe: connect to the leader's peer port and shake hands. If the leader answers, it is
//!    alive (its client reconnects by itself) and nothing happens. If the connection is
//!    refused or closed, or no answer comes within a heartbeat interval, the leader is taken
//!    to be gone.
//! 3. The follower ends its own lease on that leader's term (openraft's transfer-leader
//!    message addressed to the dead leader: every receiver drops its lease, nobody elects).
//! 4. It runs a Pre-Vote round; survivors are staggered by rank (lowest id first, one
//!    heartbeat interval apart) so that two equal logs do not split the vote, and a survivor
//!    whose log is ahead of the first one's wins the next round.
//!
//! Safety does not rest on the probe. A Pre-Vote only succeeds if a quorum has dropped its
//! lease too, that is, if a quorum saw the leader's connections close and found it gone; a
//! single follower with a flaky link cannot unseat a live leader. Reads are confirmed by a
//! quorum (read index), never served on a lease, so ending a lease early cannot make a read
//! stale.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::raft::TransferLeaderRequest;
use openraft::ServerState;
use tokio::net::TcpStream;

use super::types::{Raft, Vote};
use super::wire::{self, Request, Response};

/// Pre-Vote rounds a survivor tries before it leaves the election to the timers.
const ROUNDS: u32 = 3;

/// Clears the "takeover running" flag when dropped.
struct Running<'a>(&'a AtomicBool);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// What a follower needs to take over from a leader that died.
pub(crate) struct Failover {
    my_id: u64,
    /// Peer address of every member.
    members: BTreeMap<u64, String>,
    /// The heartbeat interval: the probe's bound and the stagger between survivors.
    heartbeat: Duration,
    raft: Raft,
    /// Set while a takeover runs, so the leader's other connections do not start more.
    running: AtomicBool,
}

impl Failover {
    pub(crate) fn new(
        my_id: u64,
        members: BTreeMap<u64, String>,
        heartbeat: Duration,
        raft: Raft,
    ) -> Self {
        Failover {
            my_id,
            members,
            heartbeat,
            raft,
            running: AtomicBool::new(false),
        }
    }

    /// Called when a peer connection from `from` ends. Returns at once if `from` is not this
    /// node's leader; otherwise it probes the leader and, if it is gone, campaigns (see the
    /// module docs). Runs for at most a few heartbeat intervals.
    ///
    /// # Cancellation safety
    /// Dropping the future stops the takeover between steps; the node is left as safe as it
    /// would be after any lost vote (timers elect a leader).
    pub(crate) async fn connection_closed(&self, from: u64) {
        if from == self.my_id || self.leader_vote(from).is_none() {
            return;
        }
        if self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        // Cleared however the takeover ends, a dropped future included.
        let _running = Running(&self.running);
        self.take_over(from).await;
    }

    async fn take_over(&self, leader: u64) {
        if !self.leader_gone(leader).await {
            tracing::debug!(
                leader,
                "a connection from the leader closed; it still accepts"
            );
            return;
        }
        let Some(vote) = self.leader_vote(leader) else {
            return;
        };
        tracing::info!(
            leader,
            "the leader is gone; ending its lease and campaigning"
        );
        let end_lease = TransferLeaderRequest::new(vote, leader, None);
        if self.raft.handle_transfer_leader(end_lease).await.is_err() {
            return;
        }
        let rank = self
            .members
            .keys()
            .filter(|&&id| id != leader && id < self.my_id)
            .count() as u32;
        tokio::time::sleep(self.heartbeat * rank).await;
        for _ in 0..ROUNDS {
            if !self.leaderless(leader) {
                return;
            }
            if self.raft.trigger().elect(true).await.is_err() {
                return;
            }
            // One round trip plus a vote write decides a round; a heartbeat interval is ample.
            tokio::time::sleep(self.heartbeat).await;
        }
    }

    /// The committed vote of `leader`, if this node is its follower.
    fn leader_vote(&self, leader: u64) -> Option<Vote> {
        let m = self.raft.metrics();
        let m = m.borrow_watched();
        let follows = m.state == ServerState::Follower
            && m.current_leader == Some(leader)
            && m.vote.committed
            && m.vote.leader_id.node_id == leader;
        follows.then_some(m.vote)
    }

    /// True while this node is a follower (not a candidate in an open round) and no node other
    /// than the dead `leader` leads.
    fn leaderless(&self, leader: u64) -> bool {
        let m = self.raft.metrics();
        let m = m.borrow_watched();
        m.state == ServerState::Follower && m.current_leader.is_none_or(|l| l == leader)
    }

    /// Whether `leader`'s peer server fails to answer a handshake within a heartbeat
    /// interval. A connect that succeeds is not enough: a process being killed may close its
    /// connections before its listening socket.
    async fn leader_gone(&self, leader: u64) -> bool {
        let Some(addr) = self.members.get(&leader) else {
            return false;
        };
        let hello = Request::Hello {
            from: self.my_id,
            to: leader,
        };
        let answered = async {
            let mut s = TcpStream::connect(addr.as_str()).await.ok()?;
            let frame = wire::encode_frame(0, &hello).ok()?;
            wire::write_frame(&mut s, &frame).await.ok()?;
            let body = wire::read_frame(&mut s).await.ok()??;
            let (_, resp) = wire::decode_body::<Response>(&body).ok()?;
            matches!(resp, Response::Hello(Ok(()))).then_some(())
        };
        !matches!(
            tokio::time::timeout(self.heartbeat, answered).await,
            Ok(Some(()))
        )
    }
}
