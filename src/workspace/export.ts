/**
 * `export --kind K`: manifest documents for the live objects of workspace kinds, written by each
 * kind's `exportDocument` so that planning them again shows no change (for objects the owner
 * owns, or adopts with --adopt). A sensitive variable's value is never written: a `{{ env.X }}`
 * placeholder stands in for it (see the variable kind).
 */
import { renderDocument } from '../export/export.js';
import type { PrefectClient } from '../prefect/client.js';
import type { JsonObject } from '../prefect/types.js';
import type { KindContext, WorkspaceKind } from './kind.js';
import { handlerFor } from './registry.js';

export interface ExportedKindFile {
  /** Relative to the export directory: `workspace/<kind>.yaml`. */
  readonly path: string;
  readonly content: string;
  readonly kind: WorkspaceKind;
  readonly keys: readonly string[];
  /** prefect-gitops owners found in the objects' tags (kinds with tags). */
  readonly owners: readonly string[];
}

/**
 * Reads every object of each kind (`ctx.all`) and renders one multi-document file per kind. With
 * `adopt`, objects not owned by `owner` get `gitops: {adopt: true}` so the first apply takes them.
 */
export async function exportWorkspace(client: PrefectClient, kinds: readonly WorkspaceKind[], options: { readonly adopt: boolean; readonly owner?: string }): Promise<ExportedKindFile[]> {
  const files: ExportedKindFile[] = [];
  for (const kind of kinds) {
    const handler = handlerFor(kind);
    if (!handler) continue;
    const ctx: KindContext = { owner: options.owner ?? '', features: client.capabilities, serverVersion: client.serverVersion, inventory: [], desired: [], deploymentKeys: [], all: true };
    if (handler.readReference) (ctx as { reference?: Record<string, unknown> }).reference = { [kind]: await handler.readReference(client, ctx) };
    const live = (await handler.readLive(client, ctx)).sort((a, b) => a.key.localeCompare(b.key));
    const docs = live.map((l) => {
      const doc = handler.exportDocument(l) as JsonObject;
      return options.adopt && l.taggedOwner !== options.owner ? { ...doc, gitops: { adopt: true } } : doc;
    });
    if (docs.length === 0) continue;
    const content = docs.map((d) => renderDocument(d, [])).join('---\n');
    files.push({ path: `workspace/${kind}.yaml`, content, kind, keys: live.map((l) => l.key), owners: [...new Set(live.map((l) => l.taggedOwner).filter((o): o is string => o !== null))] });
  }
  return files;
}
