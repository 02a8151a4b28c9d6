import { availableParallelism } from 'node:os';
import { pm2Instances } from '../../src/nest/shared/id-history.js';

const worker = { pm_id: '4', NODE_APP_INSTANCE: '2', instance_var: 'NODE_APP_INSTANCE' };

test('a PM2 worker reads its app instance count from the instances PM2 gives it', () => {
  expect(pm2Instances({ ...worker, instances: '4' })).toBe(4);
  expect(pm2Instances({ ...worker, instances: ' 1 ' })).toBe(1);
  const cpus = availableParallelism();
  expect(pm2Instances({ ...worker, instances: 'max' })).toBe(cpus);
  expect(pm2Instances({ ...worker, instances: '0' })).toBe(cpus);
  expect(pm2Instances({ ...worker, instances: '-1' })).toBe(Math.max(1, cpus - 1));
  expect(pm2Instances({ ...worker, instances: `-${cpus + 3}` })).toBe(1);
});

test('outside PM2, without an instance number, or with an unreadable count, there is none', () => {
  expect(pm2Instances({ instances: '4' })).toBeUndefined();
  expect(pm2Instances({ pm_id: '1', instances: '4' })).toBeUndefined();
  expect(pm2Instances({ ...worker })).toBeUndefined();
  expect(pm2Instances({ ...worker, instances: 'many' })).toBeUndefined();
  expect(pm2Instances({ ...worker, instances: '2.5' })).toBeUndefined();
  // A custom instance_var names the variable that holds the instance number.
  expect(
    pm2Instances({ pm_id: '1', instance_var: 'INSTANCE_ID', INSTANCE_ID: '0', instances: '3' }),
  ).toBe(3);
});
