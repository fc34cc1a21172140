//! Placing calls and taking in what providers say about them.
//!
//! Every event — a signed webhook, the simulator, a bot's report, an operator's update — is
//! applied by [`ingest`], so the same rules hold whatever the source.

use std::sync::Arc;

use chrono::Offset;
use serde_json::json;
use switchboard_core::CallStatus;
use switchboard_store::calls::{self, Applied, Call, EventInput, NewCall};
use switchboard_store::leads::Lead;
use switchboard_store::{Db, StoreError};
use switchboard_telephony::plivo::PlivoClient;
use switchboard_telephony::simulator::{EventSink, Simulator};
use switchboard_telephony::smartflo::SmartfloClient;
use switchboard_telephony::twilio::TwilioClient;
use switchboard_telephony::{Bridge, Dial, Provider, ProviderEvent, ProviderKind};
use tokio::sync::{mpsc, oneshot};

use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The provider this instance places calls through.
#[derive(Clone)]
pub struct Telephony {
    pub provider: Arc<dyn Provider>,
    pub kind: ProviderKind,
}

/// Simulator events wait here until the server's ingest loop applies them.
struct ChannelSink(mpsc::UnboundedSender<ProviderEvent>);

#[async_trait::async_trait]
impl EventSink for ChannelSink {
    async fn deliver(&self, event: ProviderEvent) {
        let _ = self.0.send(event);
    }
}

/// Build the configured provider. Simulator events come back on the returned receiver.
pub fn build(
    config: &Config,
) -> anyhow::Result<(Telephony, mpsc::UnboundedReceiver<ProviderEvent>)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let t = &config.telephony;
    let provider: Arc<dyn Provider> = match t.provider {
        ProviderKind::Simulator => Arc::new(
            Simulator::new(t.simulator.clone(), Arc::new(ChannelSink(tx)))
                .map_err(anyhow::Error::msg)?,
        ),
        ProviderKind::Twilio => Arc::new(TwilioClient::with_base_url(
            t.twilio_account_sid.clone().unwrap_or_default(),
            t.twilio_auth_token
                .as_ref()
                .map(|s| s.0.clone())
                .unwrap_or_default(),
            &t.twilio_base_url,
        )),
        ProviderKind::Plivo => Arc::new(PlivoClient::with_base_url(
            t.plivo_auth_id.clone().unwrap_or_default(),
            t.plivo_auth_token
                .as_ref()
                .map(|s| s.0.clone())
                .unwrap_or_default(),
            &t.plivo_base_url,
        )),
        ProviderKind::Smartflo => {
            // Smartflo writes local times without an offset: read them in the server's zone.
            let tz: chrono_tz::Tz = config.timezone.parse().unwrap_or(chrono_tz::UTC);
            let offset = chrono::Utc::now().with_timezone(&tz).offset().fix();
            let token = t
                .smartflo_api_token
                .as_ref()
                .map(|s| s.0.clone())
                .unwrap_or_default();
            Arc::new(
                SmartfloClient::with_base_url(token, &t.smartflo_base_url).with_utc_offset(offset),
            )
        }
    };
    Ok((
        Telephony {
            kind: t.provider,
            provider,
        },
        rx,
    ))
}

/// Apply simulator events as they come, until the channel closes.
pub async fn ingest_loop(state: AppState, mut rx: mpsc::UnboundedReceiver<ProviderEvent>) {
    while let Some(ev) = rx.recv().await {
        // Not awaited one by one: events arriving together are written in one group commit,
        // as concurrent webhooks are.
        let state = state.clone();
        tokio::spawn(async move {
            if let Err(e) = ingest(&state, &ev).await {
                tracing::warn!(call = %ev.provider_call_id, error = %e.message, "could not apply a simulator event");
            }
        });
    }
}

fn event_input(ev: &ProviderEvent) -> EventInput {
    EventInput {
        provider: ev.provider.as_str().to_string(),
        provider_call_id: ev.provider_call_id.clone(),
        event: ev.event.clone(),
        status: ev.status,
        at: ev.at,
        duration_secs: ev.duration_secs,
        hangup_cause: ev.hangup_cause.clone(),
        recording_url: ev.recording_url.clone(),
        answered_by: ev.answered_by.clone(),
        payload: ev.raw.clone(),
    }
}

/// The call id an event's `reference` names (our webhook URLs' `?call=`, the simulator's
/// reference); the store checks it really is that provider's call.
fn reference_of(ev: &ProviderEvent) -> Option<i64> {
    ev.reference.as_deref().and_then(|r| r.parse::<i64>().ok())
}

async fn apply_in(
    tx: &mut switchboard_store::Tx,
    ev: &ProviderEvent,
) -> Result<Applied, StoreError> {
    Ok(
        calls::apply_events(tx, &[(event_input(ev), reference_of(ev))])
            .await?
            .remove(0),
    )
}

struct Job {
    event: ProviderEvent,
    reply: oneshot::Sender<Result<Applied, String>>,
}

/// Applies events in batches: everything that arrived while the last batch was being written
/// goes into one transaction (group commit). Each sender still gets its own result, after the
/// commit, so a webhook is acknowledged only once its event is stored.
#[derive(Clone)]
pub struct Ingestor {
    jobs: mpsc::Sender<Job>,
}

/// Most events in one transaction.
const BATCH: usize = 1024;

impl Ingestor {
    pub fn spawn(db: Db) -> Self {
        let (jobs, rx) = mpsc::channel(4096);
        tokio::spawn(run_ingestor(db, rx));
        Self { jobs }
    }

    pub async fn apply(&self, event: ProviderEvent) -> Result<Applied, String> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { event, reply })
            .await
            .map_err(|_| "the event writer has stopped".to_string())?;
        answer
            .await
            .map_err(|_| "the event writer has stopped".to_string())?
    }
}

async fn run_ingestor(db: Db, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        match apply_batch(&db, &batch).await {
            Ok(results) => {
                for (job, r) in batch.into_iter().zip(results) {
                    let _ = job.reply.send(Ok(r));
                }
            }
            Err(e) => {
                // One bad event must not sink the others: apply each on its own.
                tracing::warn!(error = %e, size = batch.len(), "event batch failed; applying one by one");
                for job in batch {
                    let r = async {
                        let mut tx = db.begin().await?;
                        let r = apply_in(&mut tx, &job.event).await?;
                        tx.commit().await?;
                        Ok::<_, StoreError>(r)
                    }
                    .await
                    .map_err(|e| e.to_string());
                    let _ = job.reply.send(r);
                }
            }
        }
    }
}

async fn apply_batch(db: &Db, batch: &[Job]) -> Result<Vec<Applied>, StoreError> {
    let mut tx = db.begin().await?;
    let evs: Vec<_> = batch
        .iter()
        .map(|job| (event_input(&job.event), reference_of(&job.event)))
        .collect();
    let out = calls::apply_events(&mut tx, &evs).await?;
    tx.commit().await?;
    Ok(out)
}

/// Apply one provider event: stored once, the call moves forward only, the lead follows.
pub async fn ingest(state: &AppState, ev: &ProviderEvent) -> ApiResult<Applied> {
    let applied = state.ingestor.apply(ev.clone()).await.map_err(|e| {
        tracing::error!(error = %e, "could not store a call event");
        ApiError::internal()
    })?;
    let outcome = match &applied {
        Applied::Updated { .. } => "updated",
        Applied::Duplicate => "duplicate",
        Applied::UnknownCall => "unknown_call",
    };
    metrics::counter!(crate::metrics::CALL_EVENTS, "outcome" => outcome).increment(1);
    ended(state, &applied);
    changed(state, &applied);
    Ok(applied)
}

/// Tell the people concerned how a call changed.
fn changed(state: &AppState, applied: &Applied) {
    if let Applied::Updated { call, previous } = applied {
        crate::events::call_changed(&state.events, call, *previous);
    }
}

/// A call ended and gave its slots back: the dialer may start the next one now.
fn ended(state: &AppState, applied: &Applied) {
    if let Applied::Updated { call, previous } = applied
        && call.status().is_final()
        && !previous.is_final()
    {
        metrics::counter!(crate::metrics::CALLS_ENDED, "status" => call.status().as_str())
            .increment(1);
        if call.by_machine() {
            metrics::counter!(crate::metrics::CALLS_BY_MACHINE).increment(1);
        }
        state.wake_dialer();
    }
}

/// Who asked for a call and where it is bridged when answered.
pub struct CallRequest<'a> {
    pub client_id: i64,
    pub lead: Option<&'a Lead>,
    pub to: String,
    pub user_id: Option<i64>,
    pub agent_id: Option<String>,
    pub from: Option<String>,
    pub bridge: Bridge,
    pub metadata: serde_json::Value,
}

/// Read back the bridge a call was placed with (the answer webhook needs it).
pub fn bridge_of(call: &Call) -> Bridge {
    Bridge::from_json(&call.metadata.0["bridge"])
}

pub fn public_base(config: &Config) -> String {
    config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen))
}

/// The webhook URLs a provider is given for a call.
pub fn webhook_urls(config: &Config, kind: ProviderKind, call_id: i64) -> (String, String) {
    let base = public_base(config);
    match kind {
        ProviderKind::Twilio => (
            format!("{base}/webhooks/twilio/answer?call={call_id}"),
            format!("{base}/webhooks/twilio/status?call={call_id}"),
        ),
        ProviderKind::Plivo => (
            format!("{base}/webhooks/plivo/answer?call={call_id}"),
            format!("{base}/webhooks/plivo/hangup?call={call_id}"),
        ),
        ProviderKind::Smartflo | ProviderKind::Simulator => {
            (String::new(), format!("{base}/api/v1/smartflo/webhook"))
        }
    }
}

/// Place a call: the call row first (a lead in a live call is refused by the database), then
/// the provider. If the provider refuses, the call ends as failed and the lead is requeued.
pub async fn place_call(state: &AppState, req: CallRequest<'_>) -> ApiResult<Call> {
    let kind = state.telephony.kind;
    let mut new = NewCall::outbound(req.client_id, kind.as_str(), &req.to);
    new.lead_id = req.lead.map(|l| l.id);
    new.user_id = req.user_id;
    new.from_number = req
        .from
        .clone()
        .or_else(|| state.config.telephony.caller_id.clone());
    let mut metadata = req.metadata;
    metadata["bridge"] = req.bridge.to_json();
    // Recorded or not is decided when the call is placed, and kept with it.
    if state.config.telephony.record_calls && metadata.get("record").is_none() {
        metadata["record"] = serde_json::Value::Bool(true);
    }
    new.metadata = metadata;

    new.instance_id = Some(state.instance_id.to_string());
    new.slots = 1;

    let mut tx = state.db.begin().await?;
    // Checked in the same transaction that creates the call: no call reaches a listed number.
    if switchboard_store::dnc::is_blocked(&mut tx, req.client_id, &req.to).await? {
        return Err(ApiError::forbidden(
            "this number is on the do-not-call list",
        ));
    }
    // The call holds a global and a client slot until it ends; the caps hold for every call.
    let caps = switchboard_store::dialer::Caps {
        global: state.config.dialer.max_concurrent_calls,
        client: switchboard_store::clients::max_concurrent(&mut tx, req.client_id).await?,
        campaign: None,
    };
    if switchboard_store::dialer::take_slots(&mut tx, req.client_id, caps, 1).await? == 0 {
        return Err(ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "every call slot is in use (the concurrency cap is reached); try again when a call ends",
        ));
    }
    let call = match calls::create(&mut tx, &new).await {
        Ok(c) => c,
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::conflict("this lead is already in a live call"));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(lead) = req.lead {
        switchboard_store::sql(
            "UPDATE leads SET status = 'calling', updated_at = $1 WHERE id = $2",
        )
        .arg(switchboard_store::now())
        .arg(lead.id)
        .execute(&mut tx)
        .await?;
    }
    tx.commit().await?;
    hand_to_provider(state, call, req.bridge, req.agent_id).await
}

/// Give a created call to the provider. If the provider refuses, the call ends as failed (its
/// slots are freed) and the lead is requeued.
pub async fn hand_to_provider(
    state: &AppState,
    call: Call,
    bridge: Bridge,
    agent_id: Option<String>,
) -> ApiResult<Call> {
    let kind = state.telephony.kind;
    crate::events::call_started(&state.events, &call);
    let (answer_url, status_url) = webhook_urls(&state.config, kind, call.id);
    let dial = Dial {
        reference: call.id.to_string(),
        to: call.to_number.clone().unwrap_or_default(),
        from: call
            .from_number
            .clone()
            .or_else(|| state.config.telephony.caller_id.clone())
            .unwrap_or_default(),
        answer_url,
        status_url,
        ring_timeout_secs: state.config.telephony.ring_timeout_secs,
        time_limit_secs: None,
        bridge,
        agent_id,
        machine_detection: call.metadata.0["machineDetection"] == true,
        voicemail: call.metadata.0["voicemail"].as_str().map(str::to_owned),
        record: call.metadata.0["record"] == true,
    };
    let placed = state.telephony.provider.originate(&dial).await;
    metrics::counter!(
        crate::metrics::CALLS_ORIGINATED,
        "provider" => kind.as_str(),
        "result" => if placed.is_ok() { "placed" } else { "refused" }
    )
    .increment(1);
    match placed {
        Ok(placed) => {
            // The simulator's events carry our call id, and the first one stores its id with
            // the call (no write here); a real provider's id is stored now, unless one of its
            // webhooks already did.
            if kind != ProviderKind::Simulator {
                switchboard_store::sql(
                    "UPDATE calls SET provider_call_id = $1 WHERE id = $2 AND provider_call_id IS NULL",
                )
                .arg(&placed.provider_call_id)
                .arg(call.id)
                .execute(&mut state.db.write().await?)
                .await?;
            }
            let mut c = call;
            c.provider_call_id = Some(placed.provider_call_id);
            Ok(c)
        }
        Err(e) => {
            tracing::warn!(call = call.id, error = %e, "the provider did not take the call");
            let mut tx = state.db.begin().await?;
            calls::fail_unplaced(&mut tx, call.id, &format!("provider error: {e}")).await?;
            tx.commit().await?;
            if let Ok(Some(failed)) =
                calls::get(&mut state.db.read().await?, call.client_id, call.id).await
            {
                crate::events::call_changed(&state.events, &failed, call.status());
            }
            metrics::counter!(crate::metrics::CALLS_ENDED, "status" => CallStatus::Failed.as_str())
                .increment(1);
            state.wake_dialer();
            Err(ApiError::new(
                axum::http::StatusCode::BAD_GATEWAY,
                format!("the telephony provider did not take the call: {e}"),
            ))
        }
    }
}

/// The engine's way to place and end calls through this server's provider and event path.
pub struct EngineOriginator(pub AppState);

#[async_trait::async_trait]
impl switchboard_dialer::Originator for EngineOriginator {
    fn provider(&self) -> &str {
        self.0.telephony.kind.as_str()
    }

    async fn originate(&self, call: Call, bridge: Bridge) {
        let _ = hand_to_provider(&self.0, call, bridge, None).await;
    }

    async fn end_lost(&self, call: &Call, cause: &str) -> Result<(), String> {
        let ev = EventInput {
            provider: call.provider.clone(),
            provider_call_id: call
                .provider_call_id
                .clone()
                .unwrap_or_else(|| format!("call-{}", call.id)),
            event: "reconcile:lost".into(),
            status: CallStatus::Failed,
            at: switchboard_store::now(),
            duration_secs: None,
            hangup_cause: Some(cause.to_string()),
            recording_url: None,
            answered_by: None,
            payload: json!({ "source": "reconciler", "cause": cause }),
        };
        let mut tx = self.0.db.begin().await.map_err(|e| e.to_string())?;
        let applied = calls::apply_event(&mut tx, &ev, Some(call.id))
            .await
            .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
        ended(&self.0, &applied);
        changed(&self.0, &applied);
        Ok(())
    }

    async fn provider_live(&self) -> Option<std::collections::HashSet<String>> {
        let calls = self.0.telephony.provider.live_calls().await.ok()?;
        Some(calls.into_iter().map(|c| c.provider_call_id).collect())
    }
}

/// Hang up a live call through its provider. Ending a call that has already ended is fine.
pub async fn hang_up(state: &AppState, call: &Call) -> ApiResult<()> {
    if call.status().is_final() {
        return Ok(());
    }
    if call.provider != state.telephony.kind.as_str() {
        return Err(ApiError::conflict(format!(
            "this call was placed through {}, not {}",
            call.provider,
            state.telephony.kind.as_str()
        )));
    }
    let Some(pcid) = &call.provider_call_id else {
        return Err(ApiError::conflict(
            "the provider has not taken this call yet; try again in a moment",
        ));
    };
    state.telephony.provider.hangup(pcid).await.map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::BAD_GATEWAY,
            format!("the telephony provider did not hang up: {e}"),
        )
    })
}

/// Record a status a person or a bot reports for a call, through the same rules as webhooks.
pub async fn report_status(
    state: &AppState,
    call: &Call,
    source: &str,
    status: CallStatus,
    duration: Option<i64>,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> ApiResult<Applied> {
    let ev = EventInput {
        provider: call.provider.clone(),
        provider_call_id: call
            .provider_call_id
            .clone()
            .unwrap_or_else(|| format!("call-{}", call.id)),
        event: format!("{source}:{}", status.as_str()),
        status,
        at: at.unwrap_or_else(switchboard_store::now),
        duration_secs: duration,
        hangup_cause: None,
        recording_url: None,
        answered_by: None,
        payload: json!({ "source": source, "status": status.as_str() }),
    };
    let mut tx = state.db.begin().await?;
    let applied = calls::apply_event(&mut tx, &ev, Some(call.id)).await?;
    tx.commit().await?;
    changed(state, &applied);
    Ok(applied)
}

/// An agent calls a lead (seed 000's click-to-call, seed 001's start call): bridged to the
/// agent's phone, or an agent-first click-to-call on Smartflo. A lead nobody has is assigned to
/// the agent who calls it.
pub async fn agent_calls_lead(
    state: &AppState,
    s: &crate::auth::Session,
    lead: &Lead,
    surface: &str,
) -> ApiResult<Call> {
    let kind = state.telephony.kind;
    let bridge = match (&s.user.phone_number, kind) {
        (_, ProviderKind::Smartflo) => {
            if s.user.agent_id.is_none() {
                return Err(ApiError::bad_request(
                    "your profile has no Smartflo agent id",
                ));
            }
            Bridge::None
        }
        (Some(n), _) => Bridge::Agent { number: n.clone() },
        (None, ProviderKind::Simulator) => Bridge::None,
        (None, _) => {
            return Err(ApiError::bad_request(
                "your profile has no phone number to bridge the call to",
            ));
        }
    };
    let call = place_call(
        state,
        CallRequest {
            client_id: s.client_id(),
            lead: Some(lead),
            to: lead.phone.clone(),
            user_id: Some(s.user.id),
            agent_id: s.user.agent_id.clone(),
            from: None,
            bridge,
            metadata: json!({ "surface": surface }),
        },
    )
    .await?;
    if lead.assigned_user_id.is_none() {
        let mut tx = state.db.begin().await?;
        let assign = switchboard_store::leads::LeadPatch {
            assigned_user_id: Some(Some(s.user.id)),
            ..Default::default()
        };
        let assigned =
            switchboard_store::leads::update(&mut tx, s.client_id(), lead.id, &assign).await?;
        tx.commit().await?;
        if let Some(assigned) = assigned {
            crate::events::lead_assigned(&state.events, &assigned, Some(s.user.id));
        }
    }
    Ok(call)
}

/// A call to one of our numbers, taken: the call as stored, and the agent's number it is
/// bridged to (none when no agent was free: the caller hears [`INBOUND_BUSY`]).
pub struct Inbound {
    pub call: Call,
    pub agent_phone: Option<String>,
}

/// What a caller hears when no agent is free to take their call.
pub const INBOUND_BUSY: &str =
    "Thank you for calling. All our agents are busy right now; we will call you back shortly.";

/// What a caller hears when the agent they were put through to did not answer.
pub const INBOUND_MISSED: &str =
    "Sorry, nobody could take your call right now; we will call you back shortly.";

/// Take a call to one of our numbers (`to`) from `from`: the client whose campaigns call from
/// the number dialed (else the installation's first), the caller's lead in it (made when the
/// number is new to it), and an agent: the lead's own when free, else the first free one (the
/// call queue's rule, wrap-up included). The call is stored `inbound`, answered when an agent
/// is rung, `no-answer` when none is free (the lead then gets a call back due at once).
/// A repeated request for the same provider call finds the call made the first time.
pub async fn take_inbound(
    state: &AppState,
    kind: ProviderKind,
    provider_call_id: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> ApiResult<Inbound> {
    let agent_of = |c: &Call| match bridge_of(c) {
        Bridge::Agent { number } => Some(number),
        _ => None,
    };
    if let Some(call) =
        calls::find_by_provider_id(&mut state.db.read().await?, kind.as_str(), provider_call_id)
            .await?
    {
        let agent_phone = agent_of(&call).filter(|_| call.status() == CallStatus::Answered);
        return Ok(Inbound { call, agent_phone });
    }
    let normal = |n: Option<&str>| n.and_then(|n| state.phones.normalize(n).ok());
    let (from_e164, to_e164) = (normal(from), normal(to));
    let t = switchboard_store::now();
    let mut rd = state.db.read().await?;
    let client = match &to_e164 {
        Some(n) => switchboard_store::sql(
            "SELECT client_id FROM campaigns WHERE from_number = $1 ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .arg(n)
        .fetch_optional::<(i64,)>(&mut rd)
        .await?
        .map(|r| r.0),
        None => None,
    }
    .unwrap_or(state.default_client_id);
    let rules = switchboard_store::dialer::rules(&mut rd, client).await?;
    let free = switchboard_store::dialer::free_agents(
        &mut rd,
        client,
        t,
        rules.wrapup_seconds,
        std::time::Duration::from_secs(state.config.dialer.call_timeout_secs),
    )
    .await?;
    drop(rd);
    let mut tx = state.db.begin().await?;
    let lead: Option<Lead> = match &from_e164 {
        Some(phone) => {
            // One lead per phone per client, deleted ones included: a deleted lead stays so.
            let found: Option<Lead> = switchboard_store::sql(&format!(
                "SELECT {} FROM leads WHERE client_id = $1 AND phone = $2",
                switchboard_store::leads::COLUMNS
            ))
            .arg(client)
            .arg(phone)
            .fetch_optional(&mut tx)
            .await?;
            match found {
                Some(l) => l.deleted_at.is_none().then_some(l),
                None => {
                    let new = switchboard_store::leads::NewLead {
                        phone: phone.clone(),
                        name: None,
                        email: None,
                        priority: None,
                        tags: vec!["inbound".into()],
                        timezone: None,
                        list_id: None,
                        assigned_user_id: None,
                        notes: Some("Called us first".into()),
                    };
                    Some(switchboard_store::leads::create(&mut tx, client, &new).await?)
                }
            }
        }
        None => None,
    };
    let agent = lead
        .as_ref()
        .and_then(|l| l.assigned_user_id)
        .and_then(|a| free.iter().find(|(id, _)| *id == a))
        .or(free.first())
        .cloned();
    let bridge = match &agent {
        Some((_, phone)) => Bridge::Agent {
            number: phone.clone(),
        },
        None => Bridge::None,
    };
    let mut new = NewCall::outbound(
        client,
        kind.as_str(),
        to_e164.as_deref().or(to).unwrap_or(""),
    );
    new.direction = "inbound".into();
    new.started_at = t;
    new.provider_call_id = Some(provider_call_id.to_owned());
    new.from_number = from_e164.clone().or(from.map(str::to_owned));
    new.lead_id = lead.as_ref().map(|l| l.id);
    new.user_id = agent.as_ref().map(|a| a.0);
    new.metadata = json!({"surface": "inbound", "bridge": bridge.to_json()});
    let call = match calls::create(&mut tx, &new).await {
        Ok(c) => c,
        // The lead is in a live call of ours already: this one is kept without it.
        Err(StoreError::Conflict(_)) => {
            new.lead_id = None;
            calls::create(&mut tx, &new).await?
        }
        Err(e) => return Err(e.into()),
    };
    if agent.is_none()
        && let Some(l) = call.lead_id
    {
        switchboard_store::leads::call_back_now(&mut tx, l, t).await?;
    }
    tx.commit().await?;
    crate::events::call_started(&state.events, &call);
    let ev = ProviderEvent {
        provider: kind,
        provider_call_id: provider_call_id.to_owned(),
        event: "inbound".into(),
        status: if agent.is_some() {
            CallStatus::Answered
        } else {
            CallStatus::NoAnswer
        },
        at: t,
        duration_secs: None,
        hangup_cause: agent.is_none().then(|| "no agent free".to_owned()),
        recording_url: None,
        answered_by: None,
        from: None,
        to: None,
        reference: Some(call.id.to_string()),
        raw: json!({}),
    };
    ingest(state, &ev).await?;
    let call = calls::get(&mut state.db.read().await?, client, call.id)
        .await?
        .unwrap_or(call);
    Ok(Inbound {
        call,
        agent_phone: agent.map(|a| a.1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lookup by call id alone names every provider (`calls::PROVIDERS`); a provider missing
    /// from that list would make its calls unfindable by id.
    #[test]
    fn every_provider_is_in_the_stores_list() {
        for kind in ProviderKind::ALL {
            assert!(
                calls::PROVIDERS.contains(&kind.as_str()),
                "{} is missing from calls::PROVIDERS",
                kind.as_str()
            );
        }
        // This match stops compiling when a provider is added: add it to `ALL` and the list.
        for kind in ProviderKind::ALL {
            match kind {
                ProviderKind::Simulator
                | ProviderKind::Twilio
                | ProviderKind::Plivo
                | ProviderKind::Smartflo => {}
            }
        }
    }
}
