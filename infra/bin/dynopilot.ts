#!/usr/bin/env node
/**
 * The CDK app. Parameters come as context (`-c key=value` or the "context" of cdk.json):
 *
 *   sesFrom, sesTo (comma-separated), alarmEmail          required
 *   configPath (local TOML file, inlined at synth) | config (inline TOML) | configFile
 *   (path in the function's filesystem, e.g. /opt/dynopilot.toml)   exactly one
 *   configLayerArn (layer version holding that file)    optional
 *   secretsPath (/dynopilot), logRetentionDays (30), pointInTimeRecovery (false),
 *   architecture (arm64), reservedConcurrency (2 | none), metricsNamespace (Dynopilot),
 *   httpReservedConcurrency (5 | none), drainAlarm (false),
 *   sesConfigurationSet, stackName (Dynopilot)            optional
 *   skipBundling=true                                     synth without building the Rust
 *                                                         binary (offline checks only)
 *
 * `cdk deploy` builds the function with `cargo lambda build --release --arm64` at synth
 * time (cargo-lambda-cdk); skipBundling must never be set for a real deploy, or the
 * repository source would be uploaded instead of the bootstrap binary.
 */
import * as fs from 'node:fs';
import * as cdk from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { DynopilotStack } from '../lib/dynopilot-stack';

const app = new cdk.App();

function ctx(key: string): string | undefined {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  return String(value);
}

function required(key: string): string {
  const value = ctx(key);
  if (value === undefined) {
    throw new Error(`dynopilot: missing context "${key}" (pass -c ${key}=... to cdk, see README.d/deploy.md)`);
  }
  return value;
}

function bool(key: string, fallback: boolean): boolean {
  const value = ctx(key);
  if (value === undefined) return fallback;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new Error(`dynopilot: context "${key}" must be true or false, got "${value}"`);
}

// CDK's own switch for "which stacks to bundle"; the CLI sets it on every command, so it
// is overridden here, before any stack exists, when asked to skip the Rust build.
if (bool('skipBundling', false)) {
  app.node.setContext('aws:cdk:bundling-stacks', []);
}

const configPath = ctx('configPath');
const retentionDays = Number(ctx('logRetentionDays') ?? '30');
if (!Object.values(logs.RetentionDays).includes(retentionDays)) {
  throw new Error(`dynopilot: logRetentionDays ${retentionDays} is not a CloudWatch Logs retention`);
}
const architecture = ctx('architecture') ?? 'arm64';
if (architecture !== 'arm64' && architecture !== 'x86_64') {
  throw new Error(`dynopilot: architecture must be arm64 or x86_64, got "${architecture}"`);
}
const reserved = ctx('reservedConcurrency') ?? '2';
const httpReserved = ctx('httpReservedConcurrency') ?? '5';

new DynopilotStack(app, ctx('stackName') ?? 'Dynopilot', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  config: configPath !== undefined ? fs.readFileSync(configPath, 'utf8') : ctx('config'),
  configFile: ctx('configFile'),
  configLayerArn: ctx('configLayerArn'),
  sesFrom: required('sesFrom'),
  sesTo: required('sesTo').split(',').map((s) => s.trim()),
  sesConfigurationSet: ctx('sesConfigurationSet'),
  secretsPath: ctx('secretsPath'),
  alarmEmail: required('alarmEmail'),
  logRetention: retentionDays as logs.RetentionDays,
  pointInTimeRecovery: bool('pointInTimeRecovery', false),
  architecture,
  reservedConcurrency: reserved === 'none' ? 'none' : Number(reserved),
  metricsNamespace: ctx('metricsNamespace'),
  httpReservedConcurrency: httpReserved === 'none' ? 'none' : Number(httpReserved),
  drainAlarm: bool('drainAlarm', false),
});
