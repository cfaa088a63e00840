// Seeds users through the public API: node --import tsx seed.ts <baseUrl> <count>
// Ids come out 1..count on a fresh database. Existing emails (409) are fine: re-seeding is a no-op.
const [baseUrl, countArg] = process.argv.slice(2);
if (baseUrl === undefined) throw new Error('usage: seed.ts <baseUrl> <count>');
const count = Number(countArg ?? '1000');
const CONCURRENCY = 8;

let next = 1;
let created = 0;
let existing = 0;

async function worker(): Promise<void> {
  while (next <= count) {
    const i = next++;
    const res = await fetch(`${baseUrl}/api/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: `Bench User ${i}`, email: `bench-${i}@example.com` }),
    });
    await res.arrayBuffer();
    if (res.status === 201) created++;
    else if (res.status === 409) existing++;
    else throw new Error(`seeding user ${i}: HTTP ${res.status}`);
  }
}

await Promise.all(Array.from({ length: CONCURRENCY }, () => worker()));
console.log(JSON.stringify({ created, existing }));
