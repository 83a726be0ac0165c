// Builders for synthetic runtime events, shared by tests and the benchmark.
import type {
  AgentStreamChunkEvent,
  AgentTurnEvent,
  CostEvent,
  HumanRequestEvent,
  HumanResponseEvent,
  LogEvent,
  ModelPredictionEvent,
  SystemAlertEvent,
  OutputValidationEvent,
  RunCancelledEvent,
  RunCompletedEvent,
  RunFailedEvent,
  RunStartedEvent,
  ToolCallEvent,
} from '../generated/events';

export class EventFactory {
  seq = 0;
  private readonly offsets = new Map<string, number>();

  constructor(readonly runId = 'run-1') {}

  private base() {
    this.seq += 1;
    return { run_id: this.runId, seq: this.seq, ts: new Date(1_700_000_000_000 + this.seq).toISOString() };
  }

  started(procedure = 'demo.tac', inputs: Record<string, unknown> = {}, resumed = false): RunStartedEvent {
    return { ...this.base(), type: 'run_started', procedure, inputs, ...(resumed ? { resumed } : {}) };
  }

  /** The end the store writes for a run whose process stopped (`executor`: the IDE's executor
   * died); a resumed run goes on after it. */
  interrupted(partial: string | null = null, kind: 'interrupted' | 'executor' = 'interrupted'): RunFailedEvent {
    const error = { kind, message: 'the process running this run stopped before the run finished' };
    return { ...this.base(), type: 'run_failed', error, partial_text: partial };
  }

  /** A resumed run streams its repeated call from the start of the turn's text. */
  restartTurn(agent: string, turn: number): void {
    this.offsets.delete(`${agent}#${turn}`);
  }

  turn(agent: string, turn: number, stage: AgentTurnEvent['stage'], extra: Partial<AgentTurnEvent> = {}): AgentTurnEvent {
    return { ...this.base(), type: 'agent_turn', agent, turn, stage, model: 'scripted/default', ...extra };
  }

  chunk(agent: string, turn: number, text: string): AgentStreamChunkEvent {
    const key = `${agent}#${turn}`;
    const offset = this.offsets.get(key) ?? 0;
    // Offsets count code points, as the runtime (Python) does.
    this.offsets.set(key, offset + Array.from(text).length);
    return { ...this.base(), type: 'agent_stream_chunk', agent, turn, chunk_text: text, offset };
  }

  tool(
    callId: string,
    stage: ToolCallEvent['stage'],
    extra: Partial<ToolCallEvent> = {},
  ): ToolCallEvent {
    return { ...this.base(), type: 'tool_call', tool: 'search', call_id: callId, stage, agent: 'writer', turn: 1, ...extra };
  }

  cost(agent: string, turn: number, extra: Partial<CostEvent> = {}): CostEvent {
    return {
      ...this.base(),
      type: 'cost',
      agent,
      turn,
      model: 'scripted/default',
      provider: 'scripted',
      prompt_tokens: 100,
      completion_tokens: 50,
      total_tokens: 150,
      cost_usd: 0.0012,
      duration_ms: 2000,
      time_to_first_token_ms: 500,
      ...extra,
    };
  }

  validation(ok: boolean, errors: { path: string; message: string }[] = []): OutputValidationEvent {
    return { ...this.base(), type: 'output_validation', target: 'output', ok, errors };
  }

  prediction(stage: ModelPredictionEvent['stage'], extra: Partial<ModelPredictionEvent> = {}): ModelPredictionEvent {
    return { ...this.base(), type: 'model_prediction', model: 'sentiment', call: 1, stage, backend: 'http', input: { text: 'hi' }, ...extra };
  }

  log(message: string, level: LogEvent['level'] = 'info'): LogEvent {
    return { ...this.base(), type: 'log', level, message, fields: {} };
  }

  request(requestId: string, kind: HumanRequestEvent['kind'] = 'approve', message = 'Publish it?'): HumanRequestEvent {
    return { ...this.base(), type: 'human_request', request_id: requestId, kind, message, options: [], default: null, timeout_s: null };
  }

  fieldsRequest(requestId: string, fields: NonNullable<HumanRequestEvent['fields']>): HumanRequestEvent {
    return { ...this.request(requestId, 'multiple', `${fields.length} questions`), fields };
  }

  response(requestId: string, value: unknown, answeredBy: HumanResponseEvent['answered_by'] = 'person'): HumanResponseEvent {
    return { ...this.base(), type: 'human_response', request_id: requestId, value, answered_by: answeredBy };
  }

  alert(message: string, level: SystemAlertEvent['level'] = 'warning'): SystemAlertEvent {
    return { ...this.base(), type: 'system_alert', level, message, source: 'p.tac:3', context: {} };
  }

  completed(output: unknown = { ok: true }): RunCompletedEvent {
    return { ...this.base(), type: 'run_completed', output, totals: { cost_usd: 0.0012, total_tokens: 150, duration_ms: 2500, agent_turns: 1 } };
  }

  failed(message = 'boom', partial: string | null = null): RunFailedEvent {
    return { ...this.base(), type: 'run_failed', error: { kind: 'runtime', message, file: 'demo.tac', line: 12 }, partial_text: partial };
  }

  cancelled(partial: string | null = null): RunCancelledEvent {
    return { ...this.base(), type: 'run_cancelled', reason: 'cancelled', partial_text: partial };
  }
}
