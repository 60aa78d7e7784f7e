/**
 * The dynopilot stack: the same resources as the SAM template.yaml at the repository
 * root, built with aws-cdk-lib and cargo-lambda-cdk. tests/iam_check.py compares the
 * IAM actions of both with the AWS calls the Rust code makes, so keep them in step.
 */
import * as path from 'node:path';
import * as cdk from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { RustFunction } from 'cargo-lambda-cdk';
import { Construct } from 'constructs';

/** The Rust binary target that cargo lambda builds into target/lambda/<name>/bootstrap. */
export const BINARY_NAME = 'dynopilot-lambda';

/** The HTTP function's binary (Function URL: POST /drain, GET /status). */
export const HTTP_BINARY_NAME = 'dynopilot-http';

/** The repository's Cargo.toml (infra/ sits one level below the repository root). */
export const MANIFEST_PATH = path.join(__dirname, '..', '..', 'Cargo.toml');

/** The exact statements of the function's role, named by Sid (also used by the tests). */
export const ROLE_ACTIONS: Record<string, string[]> = {
  StateTable: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem'],
  SendReports: ['ses:SendEmail'],
  ReadSecrets: ['ssm:GetParameter'],
  WriteOwnLog: ['logs:CreateLogStream', 'logs:PutLogEvents'],
  OnFailureDestination: ['sqs:SendMessage'],
};

/** The exact statements of the daily tune function's role, named by Sid. */
export const TUNE_ROLE_ACTIONS: Record<string, string[]> = {
  StateTable: ['dynamodb:GetItem', 'dynamodb:PutItem'],
  SendReports: ['ses:SendEmail'],
  ReadSecrets: ['ssm:GetParameter'],
  WriteOwnLog: ['logs:CreateLogStream', 'logs:PutLogEvents'],
};

/** The exact statements of the HTTP function's role, named by Sid. */
export const HTTP_ROLE_ACTIONS: Record<string, string[]> = {
  // The drain's TransactWriteItems is authorized per action inside it (UpdateItem, PutItem);
  // the status page reads with GetItem.
  DrainAndStatus: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  ReadSecrets: ['ssm:GetParameter'],
  WriteOwnLog: ['logs:CreateLogStream', 'logs:PutLogEvents'],
};

export interface DynopilotStackProps extends cdk.StackProps {
  /** The TOML config inline (DYNOPILOT_CONFIG). Exactly one of `config` and `configFile`. */
  readonly config?: string;
  /**
   * Path of a TOML file in the function's filesystem (DYNOPILOT_CONFIG_FILE), e.g.
   * /opt/dynopilot.toml from the layer in `configLayerArn`.
   */
  readonly configFile?: string;
  /** Optional Lambda layer version holding the config file (mounted under /opt). */
  readonly configLayerArn?: string;
  /** Sender of the reports; the address or its domain must be a verified SES identity. */
  readonly sesFrom: string;
  /** Report recipients. */
  readonly sesTo: string[];
  /** Name of the sender identity's default SES configuration set, if it has one. */
  readonly sesConfigurationSet?: string;
  /** SSM path of the SecureString secrets the config references as `ssm:/<path>/...`. @default '/dynopilot' */
  readonly secretsPath?: string;
  /** Receives the alarms through an SNS email subscription. */
  readonly alarmEmail: string;
  /** @default 30 days */
  readonly logRetention?: logs.RetentionDays;
  /** Point-in-time recovery on the state table. @default false */
  readonly pointInTimeRecovery?: boolean;
  /** @default arm64 */
  readonly architecture?: 'arm64' | 'x86_64';
  /**
   * Cap on simultaneous invocations; `undefined` leaves it unreserved (for accounts whose
   * concurrency quota is too small to reserve any). @default 2
   */
  readonly reservedConcurrency?: number | 'none';
  /** CloudWatch namespace of the EMF metrics. @default 'Dynopilot' */
  readonly metricsNamespace?: string;
  /**
   * Cap on simultaneous invocations of the HTTP function (log drain, status page), so a log
   * flood never takes the decision run's concurrency; `'none'` leaves it unreserved. @default 5
   */
  readonly httpReservedConcurrency?: number | 'none';
  /** Alarm when no log-drain frame arrived for 10 minutes (turn on once drains are set up). @default false */
  readonly drainAlarm?: boolean;
}

const EMAIL = /^[^@\s,]+@[^@\s,]+\.[^@\s,]+$/;
const RECIPIENT = /^[^@\s,]+@[^@\s,]+$/;
const SECRETS_PATH = /^(\/[A-Za-z0-9_.-]+)+$/;
const NAMESPACE = /^[A-Za-z0-9._#:-]+$/;
const LAYER_ARN = /^arn:[a-z-]+:lambda:[a-z0-9-]+:[0-9]{12}:layer:[A-Za-z0-9_-]+:[0-9]+$/;

/** Rejects props the deployed function could not work with, naming the prop. */
export function validateProps(props: DynopilotStackProps): void {
  const hasConfig = (props.config ?? '') !== '';
  const hasConfigFile = (props.configFile ?? '') !== '';
  if (hasConfig === hasConfigFile) {
    throw new Error('dynopilot: set exactly one of config (inline TOML) and configFile (bundled file path)');
  }
  if (!EMAIL.test(props.sesFrom)) {
    throw new Error(`dynopilot: sesFrom must be one email address, got "${props.sesFrom}"`);
  }
  if (props.sesTo.length === 0 || props.sesTo.some((to) => !RECIPIENT.test(to))) {
    throw new Error(`dynopilot: sesTo must be one or more email addresses, got "${props.sesTo.join(',')}"`);
  }
  if (!EMAIL.test(props.alarmEmail)) {
    throw new Error(`dynopilot: alarmEmail must be one email address, got "${props.alarmEmail}"`);
  }
  if (props.secretsPath !== undefined && !SECRETS_PATH.test(props.secretsPath)) {
    throw new Error(`dynopilot: secretsPath must look like /dynopilot (no trailing slash), got "${props.secretsPath}"`);
  }
  if (props.metricsNamespace !== undefined && !NAMESPACE.test(props.metricsNamespace)) {
    throw new Error(`dynopilot: metricsNamespace has characters CloudWatch does not allow: "${props.metricsNamespace}"`);
  }
  if (props.configLayerArn && !LAYER_ARN.test(props.configLayerArn)) {
    throw new Error(`dynopilot: configLayerArn must be a Lambda layer version ARN, got "${props.configLayerArn}"`);
  }
  for (const key of ['reservedConcurrency', 'httpReservedConcurrency'] as const) {
    const rc = props[key];
    if (rc !== undefined && rc !== 'none' && !(Number.isInteger(rc) && rc >= 1)) {
      throw new Error(`dynopilot: ${key} must be a positive integer or 'none', got "${rc}"`);
    }
  }
}

export class DynopilotStack extends cdk.Stack {
  public readonly function: lambda.Function;
  public readonly httpFunction: lambda.Function;
  public readonly tuneFunction: lambda.Function;
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: DynopilotStackProps) {
    super(scope, id, props);
    validateProps(props);

    const secretsPath = props.secretsPath ?? '/dynopilot';
    const namespace = props.metricsNamespace ?? 'Dynopilot';
    const reserved = props.reservedConcurrency ?? 2;

    // One item per formation; old items expire through TTL, but the code filters by time
    // itself because DynamoDB deletes expired items lazily.
    this.table = new dynamodb.Table(this, 'StateTable', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expires_at',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: props.pointInTimeRecovery ?? false },
      // The state rebuilds itself within minutes; same as the SAM template's default.
      removalPolicy: cdk.RemovalPolicy.DESTROY,
    });

    // Created here so it has a retention and the role needs no logs:CreateLogGroup.
    const logGroup = new logs.LogGroup(this, 'FunctionLogGroup', {
      logGroupName: `/aws/lambda/${this.stackName}`,
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: cdk.RemovalPolicy.DESTROY,
    });

    // Events that never produced a decision (undeliverable, or failed after the retry).
    const failedEvents = new sqs.Queue(this, 'FailedEventsQueue', {
      retentionPeriod: cdk.Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
    });

    const domain = props.sesFrom.split('@')[1];
    const sesResources = [
      this.formatArn({ service: 'ses', resource: 'identity', resourceName: domain }),
      this.formatArn({ service: 'ses', resource: 'identity', resourceName: props.sesFrom }),
    ];
    if (props.sesConfigurationSet) {
      sesResources.push(
        this.formatArn({ service: 'ses', resource: 'configuration-set', resourceName: props.sesConfigurationSet }),
      );
    }

    const secretsArn = this.formatArn({ service: 'ssm', resource: 'parameter', resourceName: `${secretsPath.slice(1)}/*` });
    // aws/ssm-encrypted SecureStrings need no kms:Decrypt; a customer-managed key would.
    // WriteOwnLog is used by the Lambda service, not the code: the log (and EMF metrics);
    // so is OnFailureDestination: the destination of failed asynchronous invocations.
    const role = this.lambdaRole('FunctionRole', 'dynopilot Lambda execution role (least privilege)', 'dynopilot', ROLE_ACTIONS, {
      StateTable: [this.table.tableArn],
      SendReports: sesResources,
      ReadSecrets: [secretsArn],
      WriteOwnLog: [logGroup.logGroupArn],
      OnFailureDestination: [failedEvents.queueArn],
    });

    const environment: Record<string, string> = {
      DYNOPILOT_TABLE: this.table.tableName,
      DYNOPILOT_SES_FROM: props.sesFrom,
      DYNOPILOT_SES_TO: props.sesTo.join(','),
      DYNOPILOT_METRICS_NAMESPACE: namespace,
    };
    if (props.config) environment.DYNOPILOT_CONFIG = props.config;
    if (props.configFile) environment.DYNOPILOT_CONFIG_FILE = props.configFile;

    this.function = new RustFunction(this, 'DynopilotFunction', {
      description: 'dynopilot - evaluates every formation once a minute and scales Heroku dynos',
      manifestPath: MANIFEST_PATH,
      binaryName: BINARY_NAME,
      architecture: props.architecture === 'x86_64' ? lambda.Architecture.X86_64 : lambda.Architecture.ARM_64,
      memorySize: 128,
      // Half the schedule period, so a slow run never overlaps the next one by much.
      timeout: cdk.Duration.seconds(30),
      role,
      // 2: room for a manual invoke or a retry beside the scheduled run (the optimistic
      // lock keeps overlap correct) while capping Heroku API calls and cost.
      reservedConcurrentExecutions: reserved === 'none' ? undefined : reserved,
      logGroup,
      loggingFormat: lambda.LoggingFormat.TEXT,
      environment,
      layers: props.configLayerArn
        ? [lambda.LayerVersion.fromLayerVersionArn(this, 'ConfigLayer', props.configLayerArn)]
        : undefined,
    });

    // Asynchronous invocations: a late retry is stale, so give up after 2 minutes and one
    // retry and park the event. L1 on purpose: fn.configureAsyncInvoke with an
    // SqsDestination would also grant sqs:GetQueueAttributes and sqs:GetQueueUrl.
    new lambda.CfnEventInvokeConfig(this, 'EventInvokeConfig', {
      functionName: this.function.functionName,
      qualifier: '$LATEST',
      maximumEventAgeInSeconds: 120,
      maximumRetryAttempts: 1,
      destinationConfig: { onFailure: { destination: failedEvents.queueArn } },
    });

    new events.Rule(this, 'EveryMinute', {
      description: 'dynopilot evaluation, once a minute',
      schedule: events.Schedule.rate(cdk.Duration.minutes(1)),
      targets: [
        new targets.LambdaFunction(this.function, {
          maxEventAge: cdk.Duration.seconds(120),
          retryAttempts: 2,
          deadLetterQueue: failedEvents,
        }),
      ],
    });

    // The daily tune ({"action": "tune"}): the same binary in a function of its own. The
    // replay of 14 days through the candidate grid takes seconds of CPU and Lambda gives CPU
    // in proportion to memory (1,769 MB = one vCPU); the every-minute run needs 128 MB.
    const tuneLogGroup = new logs.LogGroup(this, 'TuneFunctionLogGroup', {
      logGroupName: `/aws/lambda/${this.stackName}-tune`,
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: cdk.RemovalPolicy.DESTROY,
    });
    const tuneRole = this.lambdaRole(
      'TuneFunctionRole',
      'dynopilot daily tune execution role (least privilege)',
      'dynopilot-tune',
      TUNE_ROLE_ACTIONS,
      {
        StateTable: [this.table.tableArn],
        SendReports: sesResources,
        ReadSecrets: [secretsArn],
        WriteOwnLog: [tuneLogGroup.logGroupArn],
      },
    );
    this.tuneFunction = new RustFunction(this, 'TuneFunction', {
      description: 'dynopilot - tunes each formation\'s rule on its own history, once a day',
      manifestPath: MANIFEST_PATH,
      binaryName: BINARY_NAME,
      architecture: props.architecture === 'x86_64' ? lambda.Architecture.X86_64 : lambda.Architecture.ARM_64,
      memorySize: 1769,
      timeout: cdk.Duration.minutes(5),
      role: tuneRole,
      // One tune at a time; it never competes with the decision run's concurrency.
      reservedConcurrentExecutions: reserved === 'none' ? undefined : 1,
      logGroup: tuneLogGroup,
      loggingFormat: lambda.LoggingFormat.TEXT,
      environment,
      layers: props.configLayerArn
        ? [lambda.LayerVersion.fromLayerVersionArn(this, 'TuneConfigLayer', props.configLayerArn)]
        : undefined,
    });
    // A missed day is made up the next day: no asynchronous retry.
    new lambda.CfnEventInvokeConfig(this, 'TuneEventInvokeConfig', {
      functionName: this.tuneFunction.functionName,
      qualifier: '$LATEST',
      maximumEventAgeInSeconds: 3600,
      maximumRetryAttempts: 0,
    });
    new events.Rule(this, 'DailyTune', {
      description: 'dynopilot tune, once a day',
      schedule: events.Schedule.cron({ minute: '17', hour: '4' }),
      targets: [
        new targets.LambdaFunction(this.tuneFunction, {
          event: events.RuleTargetInput.fromObject({ action: 'tune' }),
          maxEventAge: cdk.Duration.hours(1),
          retryAttempts: 2,
        }),
      ],
    });

    // The HTTP function: POST /drain (Heroku log drains) and GET /status. Its own role, log
    // group and reserved concurrency: it is reachable from the internet, so it gets only
    // what its two routes need, and a burst of drain POSTs never starves the decision run.
    const httpLogGroup = new logs.LogGroup(this, 'HttpFunctionLogGroup', {
      logGroupName: `/aws/lambda/${this.stackName}-http`,
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: cdk.RemovalPolicy.DESTROY,
    });
    const httpRole = this.lambdaRole(
      'HttpFunctionRole',
      'dynopilot HTTP function (log drain, status page) execution role (least privilege)',
      'dynopilot-http',
      HTTP_ROLE_ACTIONS,
      { DrainAndStatus: [this.table.tableArn], ReadSecrets: [secretsArn], WriteOwnLog: [httpLogGroup.logGroupArn] },
    );
    const httpEnvironment = { ...environment };
    delete httpEnvironment.DYNOPILOT_SES_FROM;
    delete httpEnvironment.DYNOPILOT_SES_TO;
    const httpReserved = props.httpReservedConcurrency ?? 5;
    this.httpFunction = new RustFunction(this, 'HttpFunction', {
      description: 'dynopilot - Heroku log drain receiver (POST /drain) and status page (GET /status)',
      manifestPath: MANIFEST_PATH,
      binaryName: HTTP_BINARY_NAME,
      architecture: props.architecture === 'x86_64' ? lambda.Architecture.X86_64 : lambda.Architecture.ARM_64,
      memorySize: 128,
      // Logplex gives up on a POST after 5 s and resends it: answering later is wasted.
      timeout: cdk.Duration.seconds(10),
      role: httpRole,
      reservedConcurrentExecutions: httpReserved === 'none' ? undefined : httpReserved,
      logGroup: httpLogGroup,
      loggingFormat: lambda.LoggingFormat.TEXT,
      environment: httpEnvironment,
      layers: props.configLayerArn
        ? [lambda.LayerVersion.fromLayerVersionArn(this, 'HttpConfigLayer', props.configLayerArn)]
        : undefined,
    });
    // Public on purpose (Logplex cannot sign requests): the function checks the drain's
    // Basic credentials and drain token, and the status page's credentials. The URL's
    // resource policy grants lambda:InvokeFunctionUrl and lambda:InvokeFunction (only
    // through the URL), as new function URLs need both.
    const url = new lambda.CfnUrl(this, 'HttpFunctionUrl', {
      targetFunctionArn: this.httpFunction.functionArn,
      authType: 'NONE',
      invokeMode: 'BUFFERED',
    });
    new lambda.CfnPermission(this, 'HttpFunctionUrlPermission', {
      functionName: this.httpFunction.functionName,
      action: 'lambda:InvokeFunctionUrl',
      principal: '*',
      functionUrlAuthType: 'NONE',
    });
    new lambda.CfnPermission(this, 'HttpFunctionInvokePermission', {
      functionName: this.httpFunction.functionName,
      action: 'lambda:InvokeFunction',
      principal: '*',
      invokedViaFunctionUrl: true,
    });

    const topic = new sns.Topic(this, 'AlarmTopic', { displayName: 'dynopilot alarms' });
    topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    const notify = new cwActions.SnsAction(topic);
    const alarm = (a: cloudwatch.Alarm) => {
      a.addAlarmAction(notify);
      a.addOkAction(notify);
    };

    alarm(
      new cloudwatch.Alarm(this, 'FunctionErrorsAlarm', {
        alarmDescription: 'dynopilot - the function failed at least once in a minute',
        metric: this.function.metricErrors({ period: cdk.Duration.minutes(1), statistic: 'Sum' }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    // Dead-man switch: one Decisions point per successful run, missing data breaches.
    const decisions = new cloudwatch.Metric({
      namespace,
      metricName: 'Decisions',
      statistic: 'Sum',
      period: cdk.Duration.minutes(1),
    });
    alarm(
      new cloudwatch.Alarm(this, 'NoDecisionAlarm', {
        alarmDescription: 'dynopilot - no successful decision in 5 minutes',
        metric: decisions,
        threshold: 1,
        evaluationPeriods: 5,
        datapointsToAlarm: 5,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
    );

    const queued = failedEvents.metricApproximateNumberOfMessagesVisible({
      period: cdk.Duration.minutes(5),
      statistic: 'Maximum',
    });
    alarm(
      new cloudwatch.Alarm(this, 'FailedEventsAlarm', {
        alarmDescription: 'dynopilot - an evaluation event was given up and parked in the failed-events queue',
        metric: queued,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    alarm(
      new cloudwatch.Alarm(this, 'TuneFunctionErrorsAlarm', {
        alarmDescription: 'dynopilot - the daily tune failed',
        metric: this.tuneFunction.metricErrors({ period: cdk.Duration.hours(1), statistic: 'Sum' }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    alarm(
      new cloudwatch.Alarm(this, 'HttpFunctionErrorsAlarm', {
        alarmDescription: 'dynopilot - the HTTP function (log drain, status page) failed at least once in 5 minutes',
        metric: this.httpFunction.metricErrors({ period: cdk.Duration.minutes(5), statistic: 'Sum' }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    if (props.drainAlarm) {
      // One EMF DrainFrames point (no dimension) per POST; none for 10 minutes breaches.
      alarm(
        new cloudwatch.Alarm(this, 'NoDrainFramesAlarm', {
          alarmDescription: 'dynopilot - no log-drain frame arrived in 10 minutes',
          metric: new cloudwatch.Metric({
            namespace,
            metricName: 'DrainFrames',
            statistic: 'Sum',
            period: cdk.Duration.minutes(10),
          }),
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        }),
      );
    }

    const dashboard = this.dashboard(namespace, decisions, queued);

    new cdk.CfnOutput(this, 'FunctionName', {
      description: 'The Lambda function (invoke it by hand with events/evaluate-dry-run.json)',
      value: this.function.functionName,
    });
    new cdk.CfnOutput(this, 'TableName', { description: 'The DynamoDB state table', value: this.table.tableName });
    new cdk.CfnOutput(this, 'DashboardUrl', {
      description: 'The CloudWatch dashboard',
      value: `https://${cdk.Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${cdk.Aws.REGION}#dashboards:name=${dashboard.dashboardName}`,
    });
    new cdk.CfnOutput(this, 'LogGroupName', { description: "The function's log group", value: logGroup.logGroupName });
    new cdk.CfnOutput(this, 'AlarmTopicArn', { description: 'SNS topic of the alarms', value: topic.topicArn });
    new cdk.CfnOutput(this, 'FailedEventsQueueUrl', {
      description: 'SQS queue of evaluation events that were given up',
      value: failedEvents.queueUrl,
    });
    new cdk.CfnOutput(this, 'TuneFunctionName', {
      description: 'The daily tune function (invoke it by hand with events/tune.json)',
      value: this.tuneFunction.functionName,
    });
    new cdk.CfnOutput(this, 'HttpFunctionName', {
      description: 'The HTTP function (log drain receiver and status page)',
      value: this.httpFunction.functionName,
    });
    new cdk.CfnOutput(this, 'DrainUrl', {
      description:
        "The log drain endpoint: heroku drains:add https://USER:PASSWORD@HOST/drain -a APP, with this URL's host " +
        "and the credentials of the app's [[drains]] entry",
      value: `${url.attrFunctionUrl}drain`,
    });
    new cdk.CfnOutput(this, 'StatusPageUrl', {
      description: 'The status page (Basic credentials of [status_page])',
      value: `${url.attrFunctionUrl}status`,
    });
  }

  /**
   * A function's execution role: one inline statement per Sid of `actions` (the exported
   * *_ROLE_ACTIONS tables), each on the resources named for it. Inline statements only:
   * granting through the L2 helpers (table.grantReadWriteData, SqsDestination, ...) would
   * add actions the code never calls.
   */
  private lambdaRole(
    id: string,
    description: string,
    policyName: string,
    actions: Record<string, string[]>,
    resources: Record<string, string[]>,
  ): iam.Role {
    const missing = Object.keys(actions).filter((sid) => resources[sid] === undefined);
    const extra = Object.keys(resources).filter((sid) => actions[sid] === undefined);
    if (missing.length > 0 || extra.length > 0) {
      throw new Error(`dynopilot: ${id}: statements without resources [${missing}], resources without statements [${extra}]`);
    }
    const statements = Object.entries(actions).map(
      ([sid, granted]) => new iam.PolicyStatement({ sid, actions: granted, resources: resources[sid] }),
    );
    return new iam.Role(this, id, {
      description,
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      inlinePolicies: { [policyName]: new iam.PolicyDocument({ statements }) },
    });
  }

  /**
   * SEARCH expressions find every formation and input that reported, so the dashboard
   * needs no formation list and follows config changes by itself.
   */
  private dashboard(namespace: string, decisions: cloudwatch.Metric, queued: cloudwatch.Metric): cloudwatch.Dashboard {
    const minute = cdk.Duration.minutes(1);
    const expr = (dims: string, metric: string, stat: string, label: string) =>
      new cloudwatch.MathExpression({
        expression: `SEARCH('{"${namespace}",${dims}} MetricName="${metric}"', '${stat}', 60)`,
        label,
        period: minute,
        usingMetrics: {},
      });
    const inputValue = (suffix: string) =>
      expr('Formation,Input', 'InputValue', 'Average', "${PROP('Dim.Formation')} ${PROP('Dim.Input')} " + suffix);
    const target = (suffix: string) => expr('Formation', 'Target', 'Maximum', "${PROP('Dim.Formation')} " + suffix);
    const current = (suffix: string) => expr('Formation', 'Current', 'Maximum', "${PROP('Dim.Formation')} " + suffix);
    const estimate = expr(
      'Formation,Input',
      'InputEstimate',
      'Average',
      "${PROP('Dim.Formation')} ${PROP('Dim.Input')} estimate",
    );

    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: this.stackName,
      defaultInterval: cdk.Duration.hours(3),
    });
    dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown:
          '## dynopilot\nPer formation: load inputs (left axis) against target and current dynos (right axis). ' +
          'Lines are labelled with the formation (app:type) and input name. Decisions counts successful runs (one a minute).',
        width: 24,
        height: 2,
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Inputs vs target vs current dynos, per formation',
        width: 24,
        height: 8,
        left: [inputValue('value')],
        right: [target('target dynos'), current('current dynos')],
        leftYAxis: { label: 'input', showUnits: false },
        rightYAxis: { label: 'dynos', min: 0, showUnits: false },
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Dynos: target vs current',
        width: 12,
        height: 6,
        left: [target('target'), current('current')],
        leftYAxis: { min: 0, showUnits: false },
      }),
      new cloudwatch.GraphWidget({
        title: 'Inputs: measured value vs estimate',
        width: 12,
        height: 6,
        left: [inputValue('value'), estimate],
        leftYAxis: { showUnits: false },
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Successful decisions per minute',
        width: 8,
        height: 6,
        left: [decisions.with({ label: 'decisions' })],
        leftAnnotations: [{ label: 'alarm below', value: 1 }],
        leftYAxis: { min: 0, showUnits: false },
      }),
      new cloudwatch.GraphWidget({
        title: 'Function errors and throttles',
        width: 8,
        height: 6,
        left: [
          this.function.metricErrors({ period: minute, statistic: 'Sum' }),
          this.function.metricThrottles({ period: minute, statistic: 'Sum' }),
          queued.with({ label: 'failed events queued' }),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: 'Function duration (ms)',
        width: 8,
        height: 6,
        left: [
          this.function.metricDuration({ period: minute, statistic: 'Average' }),
          this.function.metricDuration({ period: minute, statistic: 'Maximum' }),
        ],
      }),
    );
    return dashboard;
  }
}
