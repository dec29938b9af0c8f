/**
 * Rules a test injects for the next N matching requests (forced 429s, faults): each rule is used
 * `times` times (default once), first-added first.
 */

export type Counted<R> = R & { left: number };

export class CountedRules<R extends { times?: number }> {
  private readonly rules: Array<Counted<R>> = [];

  add(rule: R): void {
    this.rules.push({ ...rule, left: rule.times ?? 1 });
  }

  /** The first rule with uses left that `matches`, with one use consumed; undefined when none applies. */
  take(matches: (rule: R) => boolean): Counted<R> | undefined {
    const rule = this.rules.find((r) => r.left > 0 && matches(r));
    if (rule) rule.left -= 1;
    return rule;
  }
}
