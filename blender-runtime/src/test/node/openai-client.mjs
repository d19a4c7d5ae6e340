// The official `openai` npm client (7.x) against a blender server: a plain and a streamed chat completion,
// a completion, errors, then 16 clients x 10 seeded requests at once. The server is OPENAI_BASE_URL (the
// client reads it, and OPENAI_API_KEY, from the environment). Prints what it got as one JSON line for the
// JUnit test that runs it (OpenAiClientTest); exits non-zero on the first failed assertion.
import OpenAI from 'openai';
import assert from 'node:assert/strict';

const client = new OpenAI({ maxRetries: 0 });
const out = {};

// a plain chat completion, seeded
const chat = await client.chat.completions.create({
  model: 'blender', messages: [{ role: 'user', content: '37+48=' }], seed: 3,
});
assert.equal(chat.object, 'chat.completion');
assert.equal(chat.choices[0].message.role, 'assistant');
assert.equal(chat.choices[0].finish_reason, 'stop');
assert.ok(chat.usage.total_tokens === chat.usage.prompt_tokens + chat.usage.completion_tokens);
assert.ok(chat.usage.blender.sampling.completion_tokens > 0, 'the per-stage usage');
out.chat = chat.choices[0].message.content;

// the same request streamed: role first, text pieces, finish reason last, then usage
const stream = await client.chat.completions.create({
  model: 'blender', messages: [{ role: 'user', content: '37+48=' }], seed: 3,
  stream: true, stream_options: { include_usage: true },
});
let text = '';
let role;
let finish;
let usage;
let chunks = 0;
for await (const chunk of stream) {
  chunks++;
  assert.equal(chunk.object, 'chat.completion.chunk');
  if (chunk.usage) {
    usage = chunk.usage;
    continue;
  }
  const choice = chunk.choices[0];
  if (choice.delta.role) {
    assert.equal(chunks, 1, 'the role comes in the first chunk');
    role = choice.delta.role;
  }
  text += choice.delta.content ?? '';
  if (choice.finish_reason) {
    finish = choice.finish_reason;
  }
}
assert.equal(role, 'assistant');
assert.equal(finish, 'stop');
assert.ok(usage.total_tokens > 0);
assert.equal(text, out.chat, 'streamed and whole answers are the same');
out.streamed = text;

// a completion, with the blend's own settings in the extension object
const completion = await client.completions.create({
  model: 'blender', prompt: '17+62=', seed: 1, blender: { strategy: 'token-combine' },
});
assert.equal(completion.object, 'text_completion');
assert.equal(completion.blender.strategy, 'token-combine');
out.completion = completion.choices[0].text;

// the model list: the blend, then its members
const models = [];
for await (const m of client.models.list()) {
  models.push(m.id);
}
out.models = models;

// errors arrive as the client's typed errors, with OpenAI's fields
await assert.rejects(
  client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: '1+1=' }] }),
  (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && e.code === 'model_not_found' && e.param === 'model');
await assert.rejects(
  client.chat.completions.create({ model: 'blender', messages: [{ role: 'user', content: '1+1=' }], n: 2 }),
  (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === 'n'
    && e.type === 'invalid_request_error');
out.errors = 'ok';

// 16 clients x 10 seeded requests at once: each gets what one client alone gets
const prompts = ['17+62=', '37+48=', '85+95=', '91-45=', '12+34=', '70-18=', '55+55=', '99-11=', '23+68=', '64-29='];
const strategies = ['full-blend', 'token-combine', 'single', 'cascade', 'self-blend'];
async function ask(c, i) {
  const body = {
    model: 'blender', messages: [{ role: 'user', content: prompts[i] }], seed: i + 1,
    blender: { strategy: strategies[i % strategies.length], candidates: 2 },
  };
  if (i % 2 === 0) {
    return (await c.chat.completions.create(body)).choices[0].message.content;
  }
  let s = '';
  for await (const chunk of await c.chat.completions.create({ ...body, stream: true })) {
    s += chunk.choices[0]?.delta?.content ?? '';
  }
  return s;
}
const alone = [];
for (let i = 0; i < prompts.length; i++) {
  alone.push(await ask(client, i));
}
const all = await Promise.all(Array.from({ length: 16 }, async (_, c) => {
  const own = new OpenAI({ maxRetries: 0 });
  const answers = new Array(prompts.length);
  for (let k = 0; k < prompts.length; k++) {
    const i = (c + k) % prompts.length;
    answers[i] = await ask(own, i);
  }
  return answers;
}));
for (const answers of all) {
  assert.deepEqual(answers, alone);
}
out.concurrent = { clients: all.length, requests: all.length * prompts.length, answers: alone };

console.log(JSON.stringify(out));
