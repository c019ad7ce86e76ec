import path from "node:path";
import { makeGitRepo, tempDir } from "./helpers.js";

/**
 * A go module: `go test -json` with a pass, a failure, a skip, a failing subtest under its parent, and a package
 * that does not build; `go vet` finds a printf mistake and the type error.
 */
export const GO_FIXTURE: Record<string, string> = {
  "go.mod": "module example.com/fixture\n\ngo 1.21\n",
  "calc/calc.go": `package calc

import "fmt"

func Add(a, b int) int { return a + b }

func Mul(a, b int) int { return a + b }

func Describe(n int) string {
	return fmt.Sprintf("%d is %s", n)
}
`,
  "calc/calc_test.go": `package calc

import "testing"

func TestAdd(t *testing.T) {
	if Add(1, 2) != 3 {
		t.Fatal("add")
	}
}

func TestMul(t *testing.T) {
	if got := Mul(2, 3); got != 6 {
		t.Errorf("Mul(2, 3) = %d, want 6", got)
	}
}

func TestSkip(t *testing.T) {
	t.Skip("later")
}

func TestSub(t *testing.T) {
	t.Run("ok", func(t *testing.T) {})
	t.Run("bad", func(t *testing.T) { t.Error("sub failed") })
}
`,
  "broken/broken.go": `package broken

func Oops() int { return undefinedThing }
`,
};

export const GO_EXPECTED_TESTS: Record<string, "pass" | "fail" | "skip"> = {
  "example.com/fixture/calc.TestAdd": "pass",
  "example.com/fixture/calc.TestMul": "fail",
  "example.com/fixture/calc.TestSkip": "skip",
  "example.com/fixture/calc.TestSub": "fail",
  "example.com/fixture/calc.TestSub/ok": "pass",
  "example.com/fixture/calc.TestSub/bad": "fail",
  "example.com/fixture/broken": "fail",
};

/** Offline and with the installed toolchain only. */
export const GO_ENV: Record<string, string> = { GOTOOLCHAIN: "local", GOFLAGS: "-mod=mod", GOPROXY: "off" };

export async function makeGoFixture(): Promise<string> {
  return makeGitRepo(path.join(tempDir("oi gates go "), "repo"), GO_FIXTURE);
}
