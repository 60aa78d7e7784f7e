/**
 * Jest runs the CDK assertion tests in test/ through ts-jest. Type-checking is done once
 * by `tsc -p .` in `npm test`, so ts-jest only transpiles (tsconfig isolatedModules; much faster on small machines).
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.tsx?$': 'ts-jest',
  },
};
