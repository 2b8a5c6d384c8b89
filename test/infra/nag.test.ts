import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readConfig } from '../../lib/config.js';
import { addNagChecks } from '../../lib/nag.js';
import { ServiceStack } from '../../lib/service-stack.js';
import { newApp } from './template.js';

interface Violation {
  ruleName: string;
  severity: string;
  violatingConstructs: { constructPath: string }[];
}
interface PluginReport {
  pluginName: string;
  violations: Violation[];
  suppressedViolations?: (Violation & { reason: string })[];
}

describe('cdk-nag (AWS Solutions)', () => {
  // As bin/app.ts does it, without bundling (nag reads the template, not the code), and with the
  // optional resources switched on (the email subscription) so that they are checked too.
  const app = newApp({ 'aws:cdk:bundling-stacks': [], alarmEmail: 'ops@example.com' });
  new ServiceStack(app, 'Test', { config: readConfig(app.node) });
  addNagChecks(app);
  // An unacknowledged error makes synth throw; the report is written either way and says more.
  let synthError: unknown;
  try {
    app.synth();
  } catch (error) {
    synthError = error;
  }
  const report = JSON.parse(readFileSync(join(app.outdir, 'validation-report.json'), 'utf8')) as {
    pluginReports: PluginReport[];
  };
  const nag = report.pluginReports.find((r) => r.pluginName === 'AwsSolutions');

  it('ran, and left no finding unacknowledged, error or warning', () => {
    expect(nag).toBeDefined();
    const open = (nag?.violations ?? []).map(
      (v) => `${v.severity} ${v.ruleName} at ${v.violatingConstructs.map((c) => c.constructPath).join(', ')}`,
    );
    expect(open).toEqual([]);
    expect(synthError).toBeUndefined();
  });

  it('has a reason for every acknowledged finding', () => {
    const suppressed = nag?.suppressedViolations ?? [];
    expect(suppressed.length).toBeGreaterThan(0);
    for (const v of suppressed) expect(v.reason.length, v.ruleName).toBeGreaterThan(40);
  });
});
