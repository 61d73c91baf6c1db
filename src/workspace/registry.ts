/**
 * The workspace kinds this build knows: one line per kind. A kind listed in WORKSPACE_KINDS but
 * not registered here is refused at its `kind:` line ("not supported yet").
 */
import type { KindHandler, WorkspaceKind } from './kind.js';
import { automationHandler } from './kinds/automation.js';
import { globalConcurrencyLimitHandler } from './kinds/global-concurrency-limit.js';
import { variableKind } from './kinds/variable.js';
import { workPoolKind } from './kinds/work-pool.js';
import { workQueueKind } from './kinds/work-queue.js';

export const KIND_HANDLERS: readonly KindHandler[] = [
  workPoolKind,
  workQueueKind,
  variableKind,
  globalConcurrencyLimitHandler,
  automationHandler,
];

const byKind = new Map<WorkspaceKind, KindHandler>(KIND_HANDLERS.map((h) => [h.kind, h]));

/** The handler of a kind; undefined for a kind not registered in this build. */
export const handlerFor = (kind: WorkspaceKind): KindHandler | undefined => byKind.get(kind);

/** Registered handlers, in apply order (ascending `order`, then kind name). */
export const handlersInOrder = (): readonly KindHandler[] => [...KIND_HANDLERS].sort((a, b) => a.order - b.order || a.kind.localeCompare(b.kind));

/** The order deployments have among the kinds (see KindHandler.order). */
export const DEPLOYMENT_ORDER = 50;
