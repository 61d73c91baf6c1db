// env-ci ships no types; the fields prefect-gitops reads (https://github.com/semantic-release/env-ci).
declare module 'env-ci' {
  interface CiEnvironment {
    readonly isCi: boolean;
    readonly service?: string;
    readonly name?: string;
    readonly commit?: string;
    readonly branch?: string;
    readonly isPr?: boolean;
    readonly prBranch?: string;
  }
  export default function envCi(options?: { env?: Record<string, string>; cwd?: string }): CiEnvironment;
}
