import picomatch from 'picomatch';

/**
 * `--target` patterns as one predicate over deployment keys (`flow/name`): globs as picomatch reads
 * them (`*` stays within a flow or a name), and a pattern without a `/` matches deployment names in
 * any flow. Undefined when there are no patterns (everything is a target).
 */
export function targetMatcher(patterns: readonly string[] | undefined): ((key: string) => boolean) | undefined {
  if (!patterns || patterns.length === 0) return undefined;
  const globs = patterns.map((p) => (p.includes('/') ? p : `*/${p}`));
  return picomatch(globs, { dot: true });
}
