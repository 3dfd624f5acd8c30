/*
 * latch.pml -- a Promela model of latchd's election core (lib/core) and the
 * ZooKeeper environment it runs in.  docs/design.md is the specification;
 * tests/model/README.md says what is modelled and what is abstracted away.
 *
 * Checked property ("never two ACTIVE"): whenever an agent enters ACTIVE, no
 * other agent is ACTIVE with a valid lease (RoleAt of lib/core/latch_core.cc
 * reports a claim only while the lease holds), and the epoch (the czxid of the
 * leader's node, here its sequence number) never goes back.  With -DCLAIMS the
 * stronger "never two claims" (BECOMING_ACTIVE counts too) is checked.
 *
 * Known-bad variants (tests/model/check.sh --mutants):
 *   NO_LEASE_CHECK   claims ignore the lease (RoleAt without Lease::ValidAt)
 *   LEASE_FROM_REPLY the lease is measured from the reply, not the send
 *   NO_MARK_CHECK    a successor whose predecessor vanished takes over at once
 *                    (no synced listing, no handover mark, no check, no delay)
 *   NO_LOCK_DELAY    a takeover that is not a handover does not wait out the
 *                    previous holder's lease (what lib/core does today)
 *   NO_PUB_GUARD     the publish of active_server_info is not guarded on the
 *                    own node (Publisher::Send without check(own node))
 *
 * Time: one tick = 1/4 session timeout.  T = 4 ticks, lease L = T(1-m) = 3.
 */

#ifndef N
#define N 3            /* agents */
#endif
#ifndef TMAX
#define TMAX 9         /* the time bound: exploring stops here (an end state) */
#endif
#define T 4            /* negotiated session timeout, ticks */
#define L 3            /* lease length T x (1 - margin), ticks */
#define NSESS 2        /* sessions per agent */
#ifndef EXPB
#define EXPB 1         /* session expiries in all (each agent at most one) */
#endif

/* Roles, lib/core/role.h */
#define PA 0   /* PASSIVE */
#define BA 1   /* BECOMING_ACTIVE */
#define AC 2   /* ACTIVE */
#define BP 3   /* BECOMING_PASSIVE */

/* Where an agent is on its way (LatchCore, Joiner, LatchView, Takeover, StepDown) */
#define IDLE     0  /* no node: join next (LatchCore::StartJoin) */
#define CREATING 1  /* create in flight (Joiner::Create) */
#define LISTING  2  /* sync + mark read + listing in flight (LatchView::SendList) */
#define WAITING  3  /* watching the predecessor (LatchView::WatchPredecessor) */
#define CHECKING 4  /* claim check in flight (Takeover::SendClaimCheck) */
#define LOCKWAIT 5  /* waiting out the previous holder's lease (lock-delay) */
#define LEADER   6  /* leader_ (LatchCore::Claim) */
#define STEPPING 7  /* step-down multi in flight (StepDown::Send) */
#define OUT      8  /* out of the latch: unhealthy, or no session left */

/* Requests (lib/core/core_io.h Purpose) */
#define R_CREATE 1  /* kCreateNode: create EPHEMERAL_SEQUENTIAL (a write) */
#define R_LIST   2  /* kSync + kHandoverMark + kList (reads) */
#define R_CHECK  3  /* kClaimCheck: multi {check(own node)} (a write) */
#define R_PUB    4  /* kPublish*: multi {check(own node), write asi} (a write) */
#define R_RENEW  5  /* kRenew: multi {check(own node)} (a write) */
#define R_STEP   6  /* kStepDownMarked: multi {delete(own), set(mark)} (a write) */
#define R_CAND   7  /* kCandidateGet: the successor's member record (a read) */
#define OK     1
#define NONODE 2

/* ---- the agents (LatchCore) ---- */
byte now;                 /* CLOCK_MONOTONIC, in ticks; the same rate everywhere */
byte role[N];             /* RoleMachine::role_ */
byte ph[N];               /* see above */
byte node[N];             /* Joiner::own_node (sequence number), 0 = none */
byte hf[N];               /* LatchView::handover_from_: pred when it was first */
byte lend[N];             /* Lease::end_ (0 = no lease) */
byte ldl[N];              /* end of the lock-delay wait */
byte as[N];               /* the agent's session (1, 2; 0 = none left) */
bit  cd[N];               /* Candidacy: the successor's record was read */
/* one request slot per agent: in flight to the server (1), answered (2) */
byte rk[N], rst[N], rs[N], rr[N];
/* one notification slot: 1 = predecessor deleted, 2 = own node deleted;
   nf = it is ahead of the queued answer (per-session FIFO) */
byte nk[N];
bit  nf[N];

/* ---- the ZooKeeper ensemble, as seen by the ZooKeeper leader ---- */
byte srv[N];              /* the latch node of agent i's live session (seq), 0 = none */
byte seqc;                /* the latch's sequence counter */
byte mark;                /* data of leader_elector_path: the handover mark */
bit  salive[N];           /* agent i's current session is alive */
byte lr[N];               /* last receipt of a packet of that session */
byte pw[N];               /* the data watch agent i holds on its predecessor */
bit  hl[N];               /* members/<id>: healthy */
byte maxep;               /* the largest epoch that went ACTIVE */

/* fault budgets */
#ifndef TPD
#define TPD 1
#endif
#ifndef YB
#define YB 1
#endif
#ifndef UB
#define UB 1
#endif
byte expb = EXPB;         /* session expiries */
bit  tpd = TPD;             /* one delete of a live leader's node by another client */
bit  yb = YB;              /* one yield / stop / failed activation of a leader */
bit  ub = UB;              /* one server turning unhealthy */

byte j_, s_, m_;          /* scratch, always 0 between steps */

#ifdef NO_LEASE_CHECK
#define LV(i) 1
#else
#define LV(i) (now < lend[i])   /* lib/core/lease.h Lease::ValidAt */
#endif
/* lib/core/latch_core.cc LatchCore::RoleAt: a claim only while the lease holds */
#define EACT(i) (role[i] == AC && LV(i))
#define ECLAIM(i) ((role[i] == BA || role[i] == AC) && LV(i))
#define ISWRITE(k) ((k) != R_LIST && (k) != R_CAND)

/* lib/core/latch_core.cc LatchCore::OnResult -> lib/core/lease.cc Lease::OnWriteAnswered */
#ifdef LEASE_FROM_REPLY
#define RENEWED(i) if :: now + L > lend[i] -> lend[i] = now + L :: else fi
#else
#define RENEWED(i) if :: rs[i] + L > lend[i] -> lend[i] = rs[i] + L :: else fi
#endif

#define SEND(i, k) rk[i] = k; rst[i] = 1; rs[i] = now; rr[i] = 0
#define FREE(i) rk[i] = 0; rst[i] = 0; rs[i] = 0; rr[i] = 0

/* ZooKeeper queues a watch notification for session j (per-session FIFO) */
#define NOTIFY(j, kind) \
  if :: nk[j] == 0 -> nf[j] = (rst[j] != 2) :: else fi; \
  if :: kind > nk[j] -> nk[j] = kind :: else fi

/* The ZooKeeper leader deletes agent k's node: the watches on it fire
   (DataTree.deleteNode: the predecessor watch of the successor; the own-node
   watch of the owner when `own`). */
inline delnode(k, own) {
  s_ = srv[k]; srv[k] = 0;
  for (j_ : 0 .. N-1) {
    if :: pw[j_] == s_ -> pw[j_] = 0; NOTIFY(j_, 1) :: else fi
  }
  if :: own -> NOTIFY(k, 2) :: else fi;
  j_ = 0; s_ = 0
}

/* lib/core/latch_core.cc LatchCore::UpdateRole (the lease part): a lapsed
   lease ends the claim (BECOMING_PASSIVE), a renewed one resumes it */
inline upd(i) {
  if
  :: ph[i] == LEADER && (role[i] == BA || role[i] == AC) && !LV(i) -> role[i] = BP
  :: ph[i] == LEADER && (role[i] == PA || role[i] == BP) && LV(i) -> role[i] = BA
  :: else
  fi
}

/* The safety check, at every entry into a claim. */
inline checkclaim(i) {
#ifdef CLAIMS
  for (j_ : 0 .. N-1) { assert(j_ == i || !ECLAIM(j_)) }
  j_ = 0
#else
  skip
#endif
}

/* lib/core/latch_core.cc LatchCore::UpdateRole -> SetRole(kActive) after
   Publisher::OnResult kPublished */
inline becomeactive(i) {
  role[i] = AC;
  for (j_ : 0 .. N-1) { assert(j_ == i || !EACT(j_)) }   /* never two ACTIVE */
  j_ = 0;
  assert(node[i] >= maxep);                              /* epochs never go back */
  maxep = node[i];
  /* Reachability probes (check.sh --mutants must refute each one, so that the
     paths the property is about are really taken): */
#ifdef REACH_EXPIRY
  assert(!(i != 0 && expb < EXPB))  /* a successor goes ACTIVE after an expiry */
#endif
#ifdef REACH_DELETE
  assert(!(i != 0 && !tpd))         /* ... after a third-party delete (lock-delay) */
#endif
#ifdef REACH_YIELD
  assert(!(i != 0 && !yb))          /* ... after a yield (handover mark) */
#endif
#ifdef REACH_UNHEALTHY
  assert(!(i != 0 && !ub))          /* ... after a server turned unhealthy */
#endif
#ifdef REACH_SESSION2
  assert(as[i] != 2)                /* an agent goes ACTIVE in its second session */
#endif
  skip
}

/* lib/core/latch_core.cc LatchCore::Claim: leader_ = true, epoch = czxid,
   UpdateRole (BECOMING_ACTIVE if the lease holds) */
inline claim(i) {
  ph[i] = LEADER; hf[i] = 0; ldl[i] = 0; cd[i] = 0;
  upd(i);
  if :: role[i] == BA -> checkclaim(i) :: else fi
}

/* lib/core/latch_core.cc LatchCore::LoseLeadership + ScheduleRejoin */
inline lose(i) {
  role[i] = PA; ph[i] = IDLE; node[i] = 0; hf[i] = 0; ldl[i] = 0; cd[i] = 0;
  pw[i] = 0; nk[i] = 0; nf[i] = 0   /* later notifications of the old node are ignored */
}

/* lib/core/latch_core.cc LatchCore::StepDownAndRejoin / OnStop: stop
   claiming first (BECOMING_PASSIVE, PASSIVE), then the marked delete
   (lib/core/step_down.cc StepDown::Send) */
inline stepdown(i) {
  role[i] = PA; ph[i] = STEPPING; hf[i] = 0; ldl[i] = 0; cd[i] = 0;
  SEND(i, R_STEP)
}

/* The server answers agent i's request (atomically at the ZooKeeper leader;
   a sync makes the listing as fresh as this instant). */
inline serve(i) {
  lr[i] = now;
  if
  :: rk[i] == R_CREATE ->                       /* PrepRequestProcessor: create */
     seqc++; srv[i] = seqc; rr[i] = seqc
  :: rk[i] == R_LIST ->                         /* sync; getData(mark); getChildren */
     if
     :: node[i] == 0 || srv[i] != node[i] -> rr[i] = 0          /* own gone */
     :: else ->
        s_ = 0; m_ = node[i];
        for (j_ : 0 .. N-1) {
          if :: srv[j_] != 0 && srv[j_] < node[i] && srv[j_] > s_ -> s_ = srv[j_] :: else fi;
          if :: srv[j_] != 0 && srv[j_] < m_ -> m_ = srv[j_] :: else fi
        }
        if
        :: s_ == 0 && hf[i] != 0 && mark == hf[i] -> rr[i] = 1  /* first, handed over */
        :: s_ == 0 && !(hf[i] != 0 && mark == hf[i]) -> rr[i] = 2 /* first */
        :: s_ != 0 && s_ == m_ -> rr[i] = 10 + s_; pw[i] = s_   /* second: watch pred */
        :: s_ != 0 && s_ != m_ -> rr[i] = 30 + s_; pw[i] = s_   /* further back */
        fi
     fi
  :: rk[i] == R_CHECK || rk[i] == R_RENEW ->   /* multi {check(own node)} */
     rr[i] = (node[i] != 0 && srv[i] == node[i] -> OK : NONODE)
  :: rk[i] == R_PUB ->                          /* multi {check(own node), write asi} */
#ifdef NO_PUB_GUARD
     rr[i] = OK
#else
     rr[i] = (node[i] != 0 && srv[i] == node[i] -> OK : NONODE)
#endif
  :: rk[i] == R_STEP ->                         /* multi {delete(own), set(mark)} */
     if
     :: node[i] != 0 && srv[i] == node[i] -> delnode(i, 0); mark = node[i]; rr[i] = OK
     :: else -> rr[i] = NONODE
     fi
  :: rk[i] == R_CAND ->                         /* getData(members/<next id>) */
     s_ = 0; m_ = 0;
     for (j_ : 0 .. N-1) {
       if :: srv[j_] > node[i] && (s_ == 0 || srv[j_] < s_) -> s_ = srv[j_]; m_ = hl[j_] :: else fi
     }
     rr[i] = (s_ != 0 && m_ -> OK : NONODE)
  fi;
  if :: !ISWRITE(rk[i]) -> rs[i] = 0 :: else fi;
  rst[i] = 2; j_ = 0; s_ = 0; m_ = 0
}

/* Agent i takes an answer (lib/core/latch_core.cc LatchCore::OnResult). */
inline answer(i) {
  if :: nk[i] != 0 -> nf[i] = 1 :: else fi;
  if :: ISWRITE(rk[i]) -> RENEWED(i) :: else fi;
  if
  :: rk[i] == R_CREATE && ph[i] == CREATING ->  /* lib/core/joiner.cc Joiner::OnResult */
     node[i] = rr[i]; FREE(i); ph[i] = LISTING; SEND(i, R_LIST)
  :: rk[i] == R_LIST && ph[i] == LISTING ->     /* lib/core/latch_view.cc LatchView::OnList */
     if
     :: rr[i] == 0 -> FREE(i); lose(i)
     :: rr[i] == 1 -> FREE(i);                  /* lib/core/takeover.cc Takeover::OnFirst: handover */
        claim(i)
     :: rr[i] == 2 -> FREE(i); ph[i] = CHECKING; SEND(i, R_CHECK)   /* Takeover::SendClaimCheck */
     :: rr[i] >= 10 && rr[i] < 30 -> hf[i] = rr[i] - 10; FREE(i); ph[i] = WAITING
     :: rr[i] >= 30 -> hf[i] = 0; FREE(i); ph[i] = WAITING
     fi
  :: rk[i] == R_CHECK && ph[i] == CHECKING ->   /* lib/core/takeover.cc Takeover::OnResult */
     if
     :: rr[i] == OK ->
        FREE(i);
#ifdef NO_LOCK_DELAY
        claim(i)
#else
        ph[i] = LOCKWAIT; ldl[i] = now + L      /* wait out the previous holder's lease */
#endif
     :: else -> FREE(i); lose(i)
     fi
  :: rk[i] == R_PUB && ph[i] == LEADER ->       /* lib/core/publisher.cc Publisher::OnResult */
     if
     :: rr[i] == OK ->
        FREE(i);
        if :: role[i] == BA && LV(i) -> becomeactive(i) :: else -> upd(i) fi
     :: else -> FREE(i); lose(i)                /* PublishStep::kLost */
     fi
  :: rk[i] == R_RENEW && ph[i] == LEADER ->     /* LatchCore::OnRenew */
     if
     :: rr[i] == OK -> FREE(i); upd(i); if :: role[i] == BA -> checkclaim(i) :: else fi
     :: else -> FREE(i); lose(i)
     fi
  :: rk[i] == R_STEP && ph[i] == STEPPING ->    /* lib/core/step_down.cc StepDown::OnResult */
     FREE(i); node[i] = 0; ph[i] = (hl[i] -> IDLE : OUT)
  :: rk[i] == R_CAND && ph[i] == LEADER ->      /* lib/core/candidacy.cc Candidacy::OnCandidateRecord */
     if
     :: rr[i] == OK -> FREE(i); stepdown(i)     /* hand over to a healthy candidate */
     :: else -> FREE(i)                         /* keep leading: waiting_for_candidate */
     fi
  :: else -> FREE(i); upd(i)                    /* an answer of an abandoned attempt */
  fi
}

/* Agent i takes a watch notification (LatchCore::OnWatch). */
inline notified(i) {
  if
  :: nk[i] == 2 && ph[i] != STEPPING && ph[i] != IDLE && ph[i] != OUT ->
     lose(i)                                    /* Takeover::OnOwnWatch: own node deleted */
  :: nk[i] == 1 && ph[i] == WAITING && rst[i] == 0 ->
#ifdef NO_MARK_CHECK
     claim(i)                                   /* (mutant) as if handed over */
#else
     ph[i] = LISTING; SEND(i, R_LIST)           /* LatchView::OnPredecessorWatch */
#endif
  :: else
  fi;
  nk[i] = 0; nf[i] = 0
}

/* Steps an agent must take before time may pass (the core reacts to every
   event at once; only ZooKeeper's answers are late). */
#define MUSTI(i) ( \
  (ph[i] == IDLE && as[i] != 0 && rst[i] == 0) || \
  (ph[i] == LOCKWAIT && now >= ldl[i]) || \
  (ph[i] == LEADER && (role[i] == BA || role[i] == AC) && !LV(i)) || \
  (ph[i] == LEADER && role[i] == BA && rst[i] == 0) || \
  (ph[i] == LEADER && role[i] != BA && rst[i] == 0 && lend[i] < now + L) || \
  (ph[i] == LEADER && !hl[i] && !cd[i] && rst[i] == 0 && role[i] != BA) || \
  (ph[i] == WAITING && !hl[i] && rst[i] == 0))

#if N == 2
#define MUST (MUSTI(0) || MUSTI(1))
#else
#define MUST (MUSTI(0) || MUSTI(1) || MUSTI(2))
#endif

/* Not a model step: values that can no longer make a difference are reset
   so that equal futures are one state (a lapsed lease is no lease; a session
   that may expire stays so until a packet is received; a send time too old
   to give a valid lease). */
inline norm() {
  for (j_ : 0 .. N-1) {
    if :: lend[j_] <= now -> lend[j_] = 0 :: else fi;
    if :: expb == 0 || as[j_] != 1 -> lr[j_] = 0
       :: else -> if :: lr[j_] + T < now -> lr[j_] = now - T :: else fi
    fi;
    if :: rst[j_] != 0 && rs[j_] + L < now -> rs[j_] = now - L :: else fi
  }
  j_ = 0
}

proctype agent(byte i) {
end:
  do
  /* -- the agent's own steps (must: they happen before the next tick) -- */
  :: atomic { ph[i] == IDLE && as[i] != 0 && rst[i] == 0 ->
     d_step {
       if
       :: hl[i] -> ph[i] = CREATING; SEND(i, R_CREATE)   /* LatchCore::StartJoin -> Joiner::Create */
       :: else -> ph[i] = OUT                            /* unhealthy: stay out (StartJoin) */
       fi } }
  :: atomic { ph[i] == LOCKWAIT && now >= ldl[i] -> d_step { claim(i) } }
  :: atomic { ph[i] == LEADER && (role[i] == BA || role[i] == AC) && !LV(i) ->
     d_step { role[i] = BP } }                  /* LatchCore::UpdateRole: lease lapsed */
  :: atomic { ph[i] == LEADER && role[i] == BA && rst[i] == 0 ->
     d_step { SEND(i, R_PUB) } }                /* UpdateRole -> Publisher::Send (gates passed) */
  :: atomic { ph[i] == LEADER && role[i] != BA && rst[i] == 0 && lend[i] < now + L ->
     d_step { SEND(i, R_RENEW) } }              /* LatchCore::SendRenew, every R < 1 tick */
  :: atomic { ph[i] == LEADER && !hl[i] && !cd[i] && rst[i] == 0 && role[i] != BA ->
     d_step { cd[i] = 1; SEND(i, R_CAND) } }    /* Candidacy::CheckSuccessor */
  :: atomic { ph[i] == WAITING && !hl[i] && rst[i] == 0 ->
     d_step { stepdown(i) } }                   /* LatchCore::OnCandidacy: leave the latch */
  /* -- nondeterministic: yield / stop / failed activation (one in all) -- */
  :: atomic { ph[i] == LEADER && rst[i] == 0 && yb -> d_step { yb = 0; stepdown(i) } }
  /* -- ZooKeeper: the request reaches the leader (any delay) -- */
  :: atomic { rst[i] == 1 && salive[i] && now < TMAX -> d_step { serve(i) } }
  /* -- the answer reaches the agent (any delay, FIFO with notifications) -- */
  :: atomic { rst[i] == 2 && (nk[i] == 0 || !nf[i]) && now < TMAX -> d_step { answer(i) } }
  :: atomic { nk[i] != 0 && (nf[i] || rst[i] != 2) && now < TMAX -> d_step { notified(i) } }
  /* -- the agent learns its session expired (LatchCore::OnSessionExpired,
        then a new session: OnSessionUp) -- */
  :: atomic { as[i] != 0 && !salive[i] ->
     d_step {
       role[i] = PA; node[i] = 0; hf[i] = 0; ldl[i] = 0; lend[i] = 0; cd[i] = 0;
       FREE(i); nk[i] = 0; nf[i] = 0;
       if
       :: as[i] < NSESS -> as[i]++; salive[i] = 1; lr[i] = now; ph[i] = IDLE
       :: else -> as[i] = 0; ph[i] = OUT
       fi } }
  od
}

/* SessionTrackerImpl: a session not heard of for T may expire (pings are not
   modelled: they could only keep it alive longer); its ephemerals go. */
#define EXPIRABLE(k) (expb > 0 && now < TMAX && salive[k] && as[k] == 1 && now >= lr[k] + T)
#define EXPIRE(k) expb--; salive[k] = 0; pw[k] = 0; \
  if :: srv[k] != 0 -> delnode(k, 0) :: else fi

proctype env() {
end:
  do
  /* time passes when no agent has a step that comes first */
  :: atomic { now < TMAX && !MUST -> d_step { now++; norm() } }
  /* SessionTrackerImpl: expiry at last receipt + T (or later) */
  :: atomic { EXPIRABLE(0) -> d_step { EXPIRE(0) } }
  :: atomic { EXPIRABLE(1) -> d_step { EXPIRE(1) } }
#if N > 2
  :: atomic { EXPIRABLE(2) -> d_step { EXPIRE(2) } }
#endif
  /* another client deletes the first node (the live leader's) */
  :: atomic { tpd && now < TMAX ->
     d_step {
       tpd = 0; m_ = 0;
       for (j_ : 0 .. N-1) {
         if :: srv[j_] != 0 && (srv[m_] == 0 || srv[j_] < srv[m_]) -> m_ = j_ :: else fi
       }
       if :: srv[m_] != 0 -> delnode(m_, 1) :: else fi;
       m_ = 0 } }
  /* a server turns unhealthy: its agent writes members/<id> (healthy=false) */
  :: atomic { ub && now < TMAX ->
     if
     :: d_step { ub = 0; hl[0] = 0 }
     :: d_step { ub = 0; hl[1] = 0 }
#if N > 2
     :: d_step { ub = 0; hl[2] = 0 }
#endif
     fi }
  od
}

/* The start: the election has settled at time 0 -- agent 0 leads with node 1
   (ACTIVE, its lease renewed at 0), the others wait in line behind it. */
init {
  atomic {
    for (j_ : 0 .. N-1) {
      as[j_] = 1; salive[j_] = 1; hl[j_] = 1; lr[j_] = 0;
      srv[j_] = j_ + 1; node[j_] = j_ + 1;
      if
      :: j_ == 0 -> ph[0] = LEADER; role[0] = AC; lend[0] = L
      :: else -> ph[j_] = WAITING; pw[j_] = j_
      fi
    }
    hf[1] = 1; seqc = N; maxep = 1; j_ = 0;
    run env();
    for (j_ : 0 .. N-1) { run agent(j_) }
    j_ = 0
  }
}
