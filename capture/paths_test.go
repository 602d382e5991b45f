package capture

import "testing"

func TestShortenPaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, cwd, in, want string
	}{
		{"pnpm store path", "",
			"at AxiosError.from (file:///home/dev/w/node_modules/.pnpm/axios@1.21.1_debug@4.4.3_supports-color@7.2.0__supports-color@7.2.0/node_modules/axios/lib/core/AxiosError.js:163:24)",
			"at AxiosError.from (.pnpm/axios@1.21.1_@.../axios/lib/core/AxiosError.js:163:24)"},
		{"pnpm scoped package", "",
			"/app/node_modules/.pnpm/@medusajs+draft-order@2.12.3_@medusajs+admin-sdk@2.12.3_react@18.3.1/node_modules/@medusajs/draft-order/dist/index.js",
			".pnpm/@medusajs+draft-order@2.12.3_@.../@medusajs/draft-order/dist/index.js"},
		{"pnpm without peers", "",
			"/w/node_modules/.pnpm/ajv@8.20.0/node_modules/ajv/dist/core.js:267",
			".pnpm/ajv@8.20.0/ajv/dist/core.js:267"},
		{"plain node_modules", "",
			"    at next (/home/dev/shop-api/node_modules/router/lib/route.js:163:13)",
			"    at next (node_modules/router/lib/route.js:163:13)"},
		{"webpack loader chain", "",
			"ERROR in ./src/styles.css (./node_modules/css-loader/dist/cjs.js!./src/styles.css) 5:36-79",
			"ERROR in ./src/styles.css (node_modules/css-loader/dist/cjs.js!./src/styles.css) 5:36-79"},
		{"node_modules inside a word is not a path component", "",
			"/x/my_node_modules/y", "/x/my_node_modules/y"},
		{"cwd becomes relative", "/home/dev/shop-api",
			"    at computeTotal (/home/dev/shop-api/src/lib/pricing.js:13:26)",
			"    at computeTotal (src/lib/pricing.js:13:26)"},
		{"cwd with file scheme", "/home/dev/w/",
			"at file:///home/dev/w/src/sync.js:13:20", "at src/sync.js:13:20"},
		{"cwd must start the path", "/home/dev/w",
			"/srv/home/dev/w/x.js", "/srv/home/dev/w/x.js"},
		{"sibling directory untouched", "/home/dev/w",
			"/home/dev/web/x.js", "/home/dev/web/x.js"},
		{"already short", "/home/dev/w", "src/x.ts:1:2 .pnpm/a@1_@.../a/x.js", "src/x.ts:1:2 .pnpm/a@1_@.../a/x.js"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := newPathShortener(tt.cwd)
			if err != nil {
				t.Fatal(err)
			}
			got := tt.in
			if b, ok := ps.shorten(nil, []byte(tt.in)); ok {
				got = string(b)
			}
			if got != tt.want {
				t.Errorf("shorten(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			again := got
			if b, ok := ps.shorten(nil, []byte(got)); ok {
				again = string(b)
			}
			if again != got {
				t.Errorf("shortening twice gives %q, once %q", again, got)
			}
		})
	}
}

func TestShortenPathsRelativeCwd(t *testing.T) {
	t.Parallel()
	if _, err := NewPipeline(Options{Cwd: "src"}); err == nil || err.Error() != `invalid cwd "src": not an absolute path` {
		t.Errorf("relative cwd: err = %v", err)
	}
}
