// client.cjs BASE TOKEN PATIENT: drives zhiliao's FHIR server with
// fhir-kit-client, a FHIR client zhiliao did not write: the
// CapabilityStatement, a patient read, a Procedure search with _include
// paged one match at a time through the server's next links, and an
// OperationOutcome for a bad search. Prints one JSON line of what it saw.
import { Client } from 'fhir-kit-client';
const [base, token, patient] = process.argv.slice(2);
const client = new Client({ baseUrl: base, customHeaders: { Authorization: 'Bearer ' + token } });
(async () => {
  const out = {};
  const cap = await client.capabilityStatement();
  out.fhirVersion = cap.fhirVersion;
  out.types = cap.rest[0].resource.map(r => r.type);
  const p = await client.read({ resourceType: 'Patient', id: patient });
  out.patient = { id: p.id, name: p.name && p.name[0].text };
  let bundle = await client.search({ resourceType: 'Procedure', searchParams: { patient, _include: 'Procedure:patient', _count: 1, _sort: 'date' } });
  out.total = bundle.total;
  out.pages = 0;
  out.procedures = [];
  out.included = 0;
  while (bundle) {
    out.pages++;
    for (const e of bundle.entry || []) {
      if (e.search.mode === 'match') out.procedures.push(e.resource.id);
      else out.included++;
    }
    bundle = await client.nextPage({ bundle });
    if (out.pages > 50) break;
  }
  try {
    await client.search({ resourceType: 'Procedure', searchParams: { date: 'yesterday' } });
    out.badSearch = 'accepted';
  } catch (e) {
    out.badSearch = { status: e.response && e.response.status, outcome: e.response && e.response.data && e.response.data.resourceType };
  }
  console.log(JSON.stringify(out));
})().catch(e => { console.log(JSON.stringify({ error: e.message, status: e.response && e.response.status, data: e.response && e.response.data })); process.exit(1); });
