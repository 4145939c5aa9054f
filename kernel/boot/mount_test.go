package boot

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestMountAllNotPID1(t *testing.T) {
	if IsPID1() {
		t.Skip("running as PID 1")
	}
	errs := MountAll(DefaultMounts)
	if len(errs) != 1 || !errors.Is(errs[0], ErrNotPID1) {
		t.Fatalf("MountAll as non-PID 1 = %v, want ErrNotPID1", errs)
	}
}

// TestMountAllLogic runs the mount logic with a fake mount(2): mount
// points are created, EBUSY and existing mount points count as mounted,
// and a failure is reported without stopping the others.
func TestMountAllLogic(t *testing.T) {
	root := t.TempDir()
	var mounted []string
	mt := mounter{
		mount: func(source, target, fstype string, flags uintptr, data string) error {
			switch filepath.Base(target) {
			case "busy":
				return unix.EBUSY
			case "fail":
				return unix.ENODEV
			}
			mounted = append(mounted, fstype+":"+target)
			return nil
		},
		isMountPoint: func(p string) (bool, error) { return filepath.Base(p) == "already", nil },
	}
	ms := []Mount{
		{Source: "proc", Target: root + "/proc", FSType: "proc"},
		{Source: "x", Target: root + "/busy", FSType: "x"},
		{Source: "x", Target: root + "/fail", FSType: "nofs", Optional: true},
		{Source: "x", Target: root + "/already", FSType: "x"},
		{Source: "tmpfs", Target: root + "/deep/tmp", FSType: "tmpfs", Mode: 0o1777},
	}
	errs := mt.mountAll(ms)
	if len(errs) != 1 {
		t.Fatalf("errors = %v, want one", errs)
	}
	var me *MountError
	if !errors.As(errs[0], &me) || me.Mount.Target != root+"/fail" || !errors.Is(errs[0], unix.ENODEV) {
		t.Errorf("error = %v, want a MountError for /fail wrapping ENODEV", errs[0])
	}
	if !strings.Contains(errs[0].Error(), "optional") || !strings.Contains(errs[0].Error(), "nofs") {
		t.Errorf("error text %q", errs[0])
	}
	want := []string{"proc:" + root + "/proc", "tmpfs:" + root + "/deep/tmp"}
	if strings.Join(mounted, ",") != strings.Join(want, ",") {
		t.Errorf("mounted %v, want %v", mounted, want)
	}
	for _, m := range ms {
		if st, err := os.Stat(m.Target); err != nil || !st.IsDir() {
			t.Errorf("mount point %s not created: %v", m.Target, err)
		}
	}
	// A mount point that cannot be created is reported.
	file := filepath.Join(root, "file")
	os.WriteFile(file, nil, 0o644)
	if errs := mt.mountAll([]Mount{{Target: file + "/sub", FSType: "x"}}); len(errs) != 1 {
		t.Errorf("mount under a file: %v", errs)
	}
}

func TestIsMountPoint(t *testing.T) {
	if ok, err := IsMountPoint("/"); !ok || err != nil {
		t.Errorf("IsMountPoint(/) = %v, %v", ok, err)
	}
	dir := t.TempDir()
	os.Mkdir(dir+"/sub", 0o755)
	if ok, err := IsMountPoint(dir + "/sub"); ok || err != nil {
		t.Errorf("IsMountPoint(plain dir) = %v, %v", ok, err)
	}
	if _, err := IsMountPoint(dir + "/missing"); err == nil {
		t.Error("IsMountPoint(missing) did not fail")
	}
	if _, err := os.Stat("/proc/self"); err == nil {
		if ok, _ := IsMountPoint("/proc"); !ok {
			t.Error("/proc is not a mount point")
		}
	}
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		"/mnt/a":             "/mnt/a",
		`/mnt/with\040space`: "/mnt/with space",
		`/tab\011x\134`:      "/tab\tx\\",
		`/short\04`:          `/short\04`,
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}
