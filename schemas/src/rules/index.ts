// The rule language shared by the control plane (validates on save) and the router (compiles).
export * from './rule.schema.ts';
export * from './rules.compiler.ts';
export * from './template.ts';
export { RuleCompileError } from './problems.ts';

export { cloneJson } from './transformations.ts';
export { UNIT_NAMES, unitConverter, isUnitName, type UnitName } from './units.ts';
