/**
 * Assertion tests of the synthesized dynopilot stack. The App skips bundling, so no Rust
 * is compiled: the function's code asset is a placeholder and only its template matters.
 */
import * as cdk from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { DynopilotStack, DynopilotStackProps } from '../lib/dynopilot-stack';

const BASE: DynopilotStackProps = {
  config: 'dry_run = true\n',
  sesFrom: 'dynopilot@example.com',
  sesTo: ['ops@example.com', 'dev@example.com'],
  alarmEmail: 'alarms@example.com',
};

function synth(overrides: Partial<DynopilotStackProps> = {}): Template {
  const app = new cdk.App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new DynopilotStack(app, 'Dynopilot', {
    env: { account: '123456789012', region: 'eu-west-1' },
    ...BASE,
    ...overrides,
  });
  return Template.fromStack(stack);
}

type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: unknown };

/**
 * Every statement of the identity policies of the role whose logical id starts with `role`
 * (FunctionRole: the decision run's; HttpFunctionRole: the HTTP function's), inline or
 * attached as AWS::IAM::Policy; with no `role`, of every role.
 */
function identityStatements(template: Template, role?: string): Statement[] {
  const out: Statement[] = [];
  const roles = Object.entries(template.findResources('AWS::IAM::Role')).filter(
    ([id]) => role === undefined || id.startsWith(role),
  );
  for (const [, r] of roles) {
    for (const policy of r.Properties.Policies ?? []) out.push(...policy.PolicyDocument.Statement);
  }
  const ids = new Set(roles.map(([id]) => id));
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    if (policy.Properties.Roles.some((r: { Ref: string }) => ids.has(r.Ref))) {
      out.push(...policy.Properties.PolicyDocument.Statement);
    }
  }
  return out;
}

/** The Lambda function whose logical id starts with `id`. */
function fnNamed(template: Template, id: string): { [key: string]: any } {
  const found = Object.entries(template.findResources('AWS::Lambda::Function')).filter(([k]) => k.startsWith(id));
  if (found.length !== 1) throw new Error(`${found.length} functions ${id}*`);
  return found[0][1];
}

const asList = <T>(x: T | T[]): T[] => (Array.isArray(x) ? x : [x]);

/**
 * The role's statements as they must be: the AWS calls the Rust code makes (DynamoDB
 * GetItem/PutItem, SESv2 SendEmail, SSM GetParameter; tests/iam_check.py finds them in
 * src/) and what the Lambda service does on the function's behalf (its log, the
 * on-failure queue). Written out here on purpose, not imported from the stack's
 * ROLE_ACTIONS, so the template is compared with an independent list.
 */
const EXPECTED_ROLE_ACTIONS: Record<string, string[]> = {
  StateTable: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem'],
  SendReports: ['ses:SendEmail'],
  ReadSecrets: ['ssm:GetParameter'],
  WriteOwnLog: ['logs:CreateLogStream', 'logs:PutLogEvents'],
  OnFailureDestination: ['sqs:SendMessage'],
};

/**
 * The HTTP function's role: DynamoDB authorizes the drain's TransactWriteItems per action
 * inside it (UpdateItem with ADD, a conditional PutItem of the frame id); the status page
 * reads with GetItem; the credentials come from SSM; Lambda writes its log.
 */
const EXPECTED_HTTP_ROLE_ACTIONS: Record<string, string[]> = {
  DrainAndStatus: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  ReadSecrets: ['ssm:GetParameter'],
  WriteOwnLog: ['logs:CreateLogStream', 'logs:PutLogEvents'],
};

/** The daily tune: reads state and history, stores its choice, mails a suggestion. */
const EXPECTED_TUNE_ROLE_ACTIONS: Record<string, string[]> = {
  StateTable: ['dynamodb:GetItem', 'dynamodb:PutItem'],
  SendReports: ['ses:SendEmail'],
  ReadSecrets: ['ssm:GetParameter'],
  WriteOwnLog: ['logs:CreateLogStream', 'logs:PutLogEvents'],
};

/** The logical id a `{ Ref }` or `{ Fn::GetAtt }` points at, and that resource. */
function target(template: Template, value: unknown): { id: string; resource: { Type: string; Properties?: any } } {
  const v = value as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
  const id = v.Ref ?? v['Fn::GetAtt']?.[0];
  if (id === undefined) throw new Error(`not a Ref or Fn::GetAtt: ${JSON.stringify(value)}`);
  const resource = template.toJSON().Resources[id];
  if (resource === undefined) throw new Error(`no resource ${id}`);
  return { id, resource };
}

/** A resource as text, with CloudFormation's Fn::Join flattened, for wildcard checks. */
function resourceText(resource: unknown): string {
  if (typeof resource === 'string') return resource;
  if (resource && typeof resource === 'object' && 'Fn::Join' in resource) {
    const [sep, parts] = (resource as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
    return parts.map(resourceText).join(sep);
  }
  return JSON.stringify(resource);
}

describe('the function', () => {
  test('is the Rust bootstrap on provided.al2023, arm64, 128 MB, timing out well under a minute', () => {
    synth().hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'provided.al2023',
      Handler: 'bootstrap',
      Architectures: ['arm64'],
      MemorySize: 128,
      Timeout: 30,
    });
  });

  test('can be built for x86_64 instead', () => {
    synth({ architecture: 'x86_64' }).hasResourceProperties('AWS::Lambda::Function', { Architectures: ['x86_64'] });
  });

  test('reserves a concurrency of 2 by default and none when asked', () => {
    synth().hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 2 });
    synth({ reservedConcurrency: 'none' }).hasResourceProperties('AWS::Lambda::Function', {
      ReservedConcurrentExecutions: Match.absent(),
    });
  });

  test('gets the table, SES addresses, namespace and inline config through its environment', () => {
    synth().hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: {
          DYNOPILOT_CONFIG: 'dry_run = true\n',
          DYNOPILOT_CONFIG_FILE: Match.absent(),
          DYNOPILOT_TABLE: { Ref: Match.stringLikeRegexp('^StateTable') },
          DYNOPILOT_SES_FROM: 'dynopilot@example.com',
          DYNOPILOT_SES_TO: 'ops@example.com,dev@example.com',
          DYNOPILOT_METRICS_NAMESPACE: 'Dynopilot',
        },
      },
    });
  });

  test('reads a config file from a layer when given its path and the layer instead', () => {
    const layer = 'arn:aws:lambda:eu-west-1:123456789012:layer:dynopilot-config:3';
    synth({ config: undefined, configFile: '/opt/dynopilot.toml', configLayerArn: layer }).hasResourceProperties(
      'AWS::Lambda::Function',
      {
        Environment: {
          Variables: { DYNOPILOT_CONFIG: Match.absent(), DYNOPILOT_CONFIG_FILE: '/opt/dynopilot.toml' },
        },
        Layers: [layer],
      },
    );
  });

  test('has no layer unless one is given', () => {
    synth().hasResourceProperties('AWS::Lambda::Function', { Layers: Match.absent() });
  });

  test('logs into its own log group with the chosen retention', () => {
    const template = synth();
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/lambda/Dynopilot', RetentionInDays: 30 });
    template.hasResourceProperties('AWS::Lambda::Function', {
      LoggingConfig: { LogFormat: 'Text', LogGroup: { Ref: Match.stringLikeRegexp('^FunctionLogGroup') } },
    });
  });
});

describe('the HTTP function (log drain, status page)', () => {
  test('is the dynopilot-http bootstrap with its own reserved concurrency (5 by default, none when asked)', () => {
    const template = synth();
    expect(fnNamed(template, 'HttpFunction').Properties).toMatchObject({
      Runtime: 'provided.al2023',
      Handler: 'bootstrap',
      Architectures: ['arm64'],
      MemorySize: 128,
      Timeout: 10,
      ReservedConcurrentExecutions: 5,
    });
    expect(fnNamed(synth({ httpReservedConcurrency: 'none' }), 'HttpFunction').Properties.ReservedConcurrentExecutions).toBeUndefined();
    expect(fnNamed(synth({ httpReservedConcurrency: 20 }), 'HttpFunction').Properties.ReservedConcurrentExecutions).toBe(20);
  });

  test('gets the config, table and namespace but no SES addresses', () => {
    const vars = fnNamed(synth(), 'HttpFunction').Properties.Environment.Variables;
    expect(Object.keys(vars).sort()).toEqual(['DYNOPILOT_CONFIG', 'DYNOPILOT_METRICS_NAMESPACE', 'DYNOPILOT_TABLE']);
  });

  test('is reachable through a public Function URL (auth type NONE) with both invoke permissions', () => {
    const template = synth();
    template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'NONE',
      InvokeMode: 'BUFFERED',
      TargetFunctionArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^HttpFunction'), 'Arn'] },
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunctionUrl',
      Principal: '*',
      FunctionUrlAuthType: 'NONE',
      FunctionName: { Ref: Match.stringLikeRegexp('^HttpFunction') },
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: '*',
      InvokedViaFunctionUrl: true,
      FunctionName: { Ref: Match.stringLikeRegexp('^HttpFunction') },
    });
    // Nothing else may invoke either function publicly.
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission')).filter(
      (p) => p.Properties.Principal === '*',
    );
    expect(permissions).toHaveLength(2);
  });

  test('alarms on its errors, and on 10 minutes without a drain frame only when asked', () => {
    synth().hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: Match.stringLikeRegexp('^HttpFunction') } }],
    });
    const without = synth().findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'DrainFrames' } });
    expect(Object.keys(without)).toHaveLength(0);
    synth({ drainAlarm: true, metricsNamespace: 'DynopilotProd' }).hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'DynopilotProd',
      MetricName: 'DrainFrames',
      Dimensions: Match.absent(),
      Statistic: 'Sum',
      Period: 600,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^AlarmTopic') }],
    });
  });

  test('logs into its own log group', () => {
    synth().hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/lambda/Dynopilot-http', RetentionInDays: 30 });
  });
});

describe('the daily tune', () => {
  test('is the decision binary with one vCPU of memory, 5 minutes and a concurrency of 1', () => {
    expect(fnNamed(synth(), 'TuneFunction').Properties).toMatchObject({
      Handler: 'bootstrap',
      MemorySize: 1769,
      Timeout: 300,
      ReservedConcurrentExecutions: 1,
    });
    expect(fnNamed(synth({ reservedConcurrency: 'none' }), 'TuneFunction').Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  test('runs once a day with {"action": "tune"} and no asynchronous retry', () => {
    const template = synth();
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(17 4 * * ? *)',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^TuneFunction'), 'Arn'] },
          Input: JSON.stringify({ action: 'tune' }),
          RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 2 },
        }),
      ],
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: Match.stringLikeRegexp('^TuneFunction') },
      MaximumRetryAttempts: 0,
    });
  });

  test('gets the same environment as the decision run', () => {
    const template = synth();
    expect(fnNamed(template, 'TuneFunction').Properties.Environment).toEqual(
      fnNamed(template, 'DynopilotFunction').Properties.Environment,
    );
  });
});

describe('the schedule', () => {
  test('fires every minute with bounded retries and event age, and a dead-letter queue', () => {
    synth().hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DynopilotFunction'), 'Arn'] },
          RetryPolicy: { MaximumEventAgeInSeconds: 120, MaximumRetryAttempts: 2 },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^FailedEventsQueue'), 'Arn'] } },
        }),
      ],
    });
  });

  test('drops stale asynchronous retries and parks failed events in the queue', () => {
    synth().hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      Qualifier: '$LATEST',
      MaximumEventAgeInSeconds: 120,
      MaximumRetryAttempts: 1,
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^FailedEventsQueue'), 'Arn'] } },
      },
    });
  });

  test('lets only its own rule write to the dead-letter queue', () => {
    synth().hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Action: 'sqs:SendMessage',
            Principal: { Service: 'events.amazonaws.com' },
            Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [Match.stringLikeRegexp('^EveryMinute'), 'Arn'] } } },
          }),
        ],
      },
    });
  });
});

describe('IAM', () => {
  test.each([
    ['FunctionRole', EXPECTED_ROLE_ACTIONS],
    ['HttpFunctionRole', EXPECTED_HTTP_ROLE_ACTIONS],
    ['TuneFunctionRole', EXPECTED_TUNE_ROLE_ACTIONS],
  ])('%s grants exactly the actions its code and the Lambda service use, statement by statement', (role, expected) => {
    const statements = identityStatements(synth(), role);
    expect(statements).toHaveLength(Object.keys(expected).length);
    const bySid = Object.fromEntries(statements.map((s) => [s.Sid, asList(s.Action).sort()]));
    expect(bySid).toEqual(expected);
  });

  test('gives each function its own role', () => {
    const template = synth();
    const roles = Object.keys(template.findResources('AWS::IAM::Role')).sort();
    expect(roles).toHaveLength(3);
    for (const [fn, role] of [
      ['DynopilotFunction', /^FunctionRole/],
      ['HttpFunction', /^HttpFunctionRole/],
      ['TuneFunction', /^TuneFunctionRole/],
    ] as const) {
      const found = target(template, fnNamed(template, fn).Properties.Role);
      expect(found.id).toMatch(role);
      expect(found.resource.Type).toBe('AWS::IAM::Role');
    }
  });

  test("scopes the HTTP function's statements to the table, secrets path and its own log group", () => {
    const statements = identityStatements(synth({ secretsPath: '/prod/dynopilot' }), 'HttpFunctionRole');
    const resources = (sid: string) => asList(statements.find((s) => s.Sid === sid)?.Resource).map(resourceText);
    expect(resources('DrainAndStatus')).toEqual([expect.stringMatching(/StateTable.*Arn/)]);
    expect(resources('ReadSecrets')).toEqual([
      'arn:{"Ref":"AWS::Partition"}:ssm:eu-west-1:123456789012:parameter/prod/dynopilot/*',
    ]);
    expect(resources('WriteOwnLog')).toEqual([expect.stringMatching(/HttpFunctionLogGroup.*Arn/)]);
  });

  test('has no wildcard action and no "*" resource', () => {
    const statements = identityStatements(synth());
    expect(statements.length).toBeGreaterThan(0);
    for (const s of statements) {
      expect(s.Effect).toBe('Allow');
      for (const action of asList(s.Action)) expect(action).not.toMatch(/\*/);
      for (const resource of asList(s.Resource)) expect(resourceText(resource)).not.toBe('*');
    }
  });

  test('scopes every statement to this stack\'s table, SES identity, secrets path, log group and queue', () => {
    const statements = identityStatements(synth({ secretsPath: '/prod/dynopilot' }), 'FunctionRole');
    const resources = (sid: string) =>
      asList(statements.find((s) => s.Sid === sid)?.Resource).map(resourceText);
    expect(resources('StateTable')).toEqual([expect.stringMatching(/StateTable.*Arn/)]);
    expect(resources('SendReports')).toEqual([
      'arn:{"Ref":"AWS::Partition"}:ses:eu-west-1:123456789012:identity/example.com',
      'arn:{"Ref":"AWS::Partition"}:ses:eu-west-1:123456789012:identity/dynopilot@example.com',
    ]);
    expect(resources('ReadSecrets')).toEqual([
      'arn:{"Ref":"AWS::Partition"}:ssm:eu-west-1:123456789012:parameter/prod/dynopilot/*',
    ]);
    expect(resources('WriteOwnLog')).toEqual([expect.stringMatching(/FunctionLogGroup.*Arn/)]);
    expect(resources('OnFailureDestination')).toEqual([expect.stringMatching(/FailedEventsQueue.*Arn/)]);
  });

  test('adds the SES configuration set to the send permission only when one is named', () => {
    const statements = identityStatements(synth({ sesConfigurationSet: 'tracking' }));
    const ses = asList(statements.find((s) => s.Sid === 'SendReports')?.Resource).map(resourceText);
    expect(ses).toContain('arn:{"Ref":"AWS::Partition"}:ses:eu-west-1:123456789012:configuration-set/tracking');
  });

  test('attaches no managed policy to any role', () => {
    for (const role of Object.values(synth().findResources('AWS::IAM::Role'))) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });
});

describe('the state table', () => {
  test('is keyed by pk alone, on demand, with TTL on expires_at and no PITR by default', () => {
    synth().hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: false },
    });
  });

  test('turns point-in-time recovery on when asked', () => {
    synth({ pointInTimeRecovery: true }).hasResourceProperties('AWS::DynamoDB::Table', {
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });
});

describe('alarms', () => {
  test('fire on any function error', () => {
    synth().hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Statistic: 'Sum',
      Period: 60,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^AlarmTopic') }],
    });
  });

  test('fire when no decision succeeded for 5 minutes, counting missing data as breaching', () => {
    synth({ metricsNamespace: 'DynopilotProd' }).hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'DynopilotProd',
      MetricName: 'Decisions',
      Dimensions: Match.absent(),
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 5,
      DatapointsToAlarm: 5,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^AlarmTopic') }],
    });
  });

  test('reach the alarm email through an SNS subscription', () => {
    synth().hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'alarms@example.com' });
  });
});

describe('the dashboard', () => {
  test('plots inputs, target and current dynos per formation through SEARCH expressions', () => {
    const dashboards = synth().findResources('AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(Object.values(dashboards)[0].Properties.DashboardBody);
    for (const metric of ['InputValue', 'InputEstimate', 'Target', 'Current']) {
      expect(body).toContain(`MetricName=\\\\\\"${metric}\\\\\\"`);
    }
    expect(body).toContain("PROP('Dim.Formation')");
  });
});

describe('outputs', () => {
  const template = synth();
  const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;

  test('are exactly these ten', () => {
    expect(Object.keys(outputs).sort()).toEqual([
      'AlarmTopicArn',
      'DashboardUrl',
      'DrainUrl',
      'FailedEventsQueueUrl',
      'FunctionName',
      'HttpFunctionName',
      'LogGroupName',
      'StatusPageUrl',
      'TableName',
      'TuneFunctionName',
    ]);
  });

  test.each([
    ['DrainUrl', 'drain'],
    ['StatusPageUrl', 'status'],
  ])("%s is the HTTP function's URL followed by %s", (output, path) => {
    const join = (outputs[output].Value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
    expect(join[0]).toBe('');
    const [url, suffix] = join[1] as [{ 'Fn::GetAtt': [string, string] }, string];
    expect(suffix).toBe(path);
    expect(url['Fn::GetAtt'][1]).toBe('FunctionUrl');
    expect(target(template, url).resource).toMatchObject({ Type: 'AWS::Lambda::Url', Properties: { AuthType: 'NONE' } });
  });

  test.each([
    // output, the resource type its Ref names, a property that identifies it
    ['FunctionName', 'AWS::Lambda::Function', { Handler: 'bootstrap', Timeout: 30 }],
    ['HttpFunctionName', 'AWS::Lambda::Function', { Handler: 'bootstrap', Timeout: 10 }],
    ['TuneFunctionName', 'AWS::Lambda::Function', { Handler: 'bootstrap', Timeout: 300 }],
    ['TableName', 'AWS::DynamoDB::Table', { KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] }],
    ['LogGroupName', 'AWS::Logs::LogGroup', { LogGroupName: '/aws/lambda/Dynopilot' }],
    ['AlarmTopicArn', 'AWS::SNS::Topic', { DisplayName: 'dynopilot alarms' }],
    ['FailedEventsQueueUrl', 'AWS::SQS::Queue', { MessageRetentionPeriod: 1209600 }],
  ])('%s is the Ref of the %s', (output, type, properties) => {
    const value = outputs[output].Value as { Ref?: string };
    expect(Object.keys(value)).toEqual(['Ref']);
    expect(target(template, value).resource).toMatchObject({ Type: type, Properties: properties });
  });

  test("DashboardUrl opens this stack's dashboard in the stack's region", () => {
    const join = (outputs.DashboardUrl.Value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
    const parts = join[1];
    expect(join[0]).toBe('');
    expect(parts).toEqual([
      'https://',
      { Ref: 'AWS::Region' },
      '.console.aws.amazon.com/cloudwatch/home?region=',
      { Ref: 'AWS::Region' },
      '#dashboards:name=',
      { Ref: expect.any(String) },
    ]);
    expect(target(template, parts[5]).resource).toMatchObject({
      Type: 'AWS::CloudWatch::Dashboard',
      Properties: { DashboardName: 'Dynopilot' },
    });
  });
});

describe('props', () => {
  test('need exactly one config source', () => {
    expect(() => synth({ config: undefined })).toThrow(/exactly one of config/);
    expect(() => synth({ configFile: '/var/task/dynopilot.toml' })).toThrow(/exactly one of config/);
  });

  test('reject a malformed address or secrets path, naming the prop', () => {
    expect(() => synth({ sesFrom: 'not-an-address' })).toThrow(/sesFrom/);
    expect(() => synth({ sesTo: [] })).toThrow(/sesTo/);
    expect(() => synth({ secretsPath: '/dynopilot/' })).toThrow(/secretsPath/);
    expect(() => synth({ reservedConcurrency: 0 })).toThrow(/reservedConcurrency/);
    expect(() => synth({ httpReservedConcurrency: 1.5 })).toThrow(/httpReservedConcurrency/);
    expect(() => synth({ configLayerArn: 'dynopilot-config' })).toThrow(/configLayerArn/);
  });
});
