// Pure helpers about votes: no DOM, no network.

/**
 * The groups of `story_changed.votes` as `[{option, voters: [{id, name}]}]`, most votes first
 * (the server already orders them so; a stable sort keeps its order for ties).
 */
export function voteGroups(votes) {
  return Object.entries(votes || {})
    .map(([option, voters]) => ({ option, voters: Array.isArray(voters) ? voters : [] }))
    .filter((group) => group.voters.length > 0)
    .sort((a, b) => b.voters.length - a.voters.length);
}

/** The option the user voted for, or null (also while the votes are hidden from them). */
export function myVote(votes, userId) {
  for (const { option, voters } of voteGroups(votes)) {
    if (voters.some((v) => v.id === userId)) return option;
  }
  return null;
}

/** A number for a numeric option ("5", "0.5"), else null ("XL", "No idea"). */
export function numeric(option) {
  const text = String(option).trim();
  if (!/^-?\d+(\.\d+)?$/.test(text)) return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

/**
 * Statistics over the groups: `{count, average, median, agreed}`; average and median cover the
 * numeric votes only (null when there are none); `agreed` is true when at least two people
 * voted and all chose the same option.
 */
export function voteStats(groups) {
  const count = groups.reduce((sum, g) => sum + g.voters.length, 0);
  const numbers = [];
  for (const { option, voters } of groups) {
    const n = numeric(option);
    if (n !== null) for (let i = 0; i < voters.length; i++) numbers.push(n);
  }
  numbers.sort((a, b) => a - b);
  let average = null;
  let median = null;
  if (numbers.length) {
    average = numbers.reduce((a, b) => a + b, 0) / numbers.length;
    const mid = Math.floor(numbers.length / 2);
    median = numbers.length % 2 ? numbers[mid] : (numbers[mid - 1] + numbers[mid]) / 2;
  }
  return { count, average, median, agreed: count >= 2 && groups.length === 1 };
}

/** A number with at most one decimal, in the reader's format. */
export function formatNumber(n) {
  return new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 }).format(n);
}
