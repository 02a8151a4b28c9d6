export declare function testBuildDir(): string;
