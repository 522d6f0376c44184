#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage.h"

/*
 * storage_fs: files stored in batches.  Each object of a batch lands whole
 * under its key (directories made as needed), nothing temporary stays
 * behind, an earlier writer's leftover temporary is removed, and one
 * object that cannot be stored fails alone.  Durability itself (the
 * fsyncs) is not observable here; the fault tests kill workers around it.
 */

static char fs_root[64];

static void
fs_setup(void)
{
	snprintf(fs_root, sizeof(fs_root), "/tmp/imggen-fs-test.XXXXXX");
	cr_assert_not_null(mkdtemp(fs_root));
}

static void
fs_rm(const char *path)
{
	struct dirent	*de;
	struct stat	 st;
	char		 sub[4096];
	DIR		*d;

	if (lstat(path, &st) == -1)
		return;
	if (S_ISDIR(st.st_mode) && (d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			fs_rm(sub);
		}
		closedir(d);
		rmdir(path);
	} else
		unlink(path);
}

static void
fs_teardown(void)
{
	fs_rm(fs_root);
}

/* The file under the root holds exactly data. */
static void
fs_assert_file(const char *key, const char *data)
{
	char	 path[4096], got[256];
	ssize_t	 n;
	int	 fd;

	snprintf(path, sizeof(path), "%s/%s", fs_root, key);
	fd = open(path, O_RDONLY);
	cr_assert_neq(fd, -1, "%s: %s", key, strerror(errno));
	n = read(fd, got, sizeof(got) - 1);
	close(fd);
	cr_assert_geq(n, 0);
	got[n] = '\0';
	cr_assert_str_eq(got, data, "%s", key);
}

/* Files under dir (relative to the root) whose name contains ".tmp.". */
static int
fs_temporaries(const char *dir)
{
	struct dirent	*de;
	char		 path[4096];
	DIR		*d;
	int		 n = 0;

	snprintf(path, sizeof(path), "%s/%s", fs_root, dir);
	cr_assert_not_null(d = opendir(path), "%s", path);
	while ((de = readdir(d)) != NULL)
		n += strstr(de->d_name, ".tmp.") != NULL;
	closedir(d);
	return n;
}

static void
fs_obj(struct storage_obj *o, const char *key, const char *data)
{
	memset(o, 0, sizeof(*o));
	o->key = key;
	o->data = data;
	o->len = strlen(data);
}

TestSuite(storage_fs, .init = fs_setup, .fini = fs_teardown);

Test(storage_fs, batch_stores_every_file_in_new_and_shared_directories)
{
	struct storage_obj	 o[5];

	fs_obj(&o[0], "generations/u1/g1/0.png", "image one");
	fs_obj(&o[1], "generations/u1/g1/1.png", "image two");
	fs_obj(&o[2], "generations/u1/g2/0.png", "other generation");
	fs_obj(&o[3], "generations/u2/g3/0.jpg", "other user");
	fs_obj(&o[4], "generations/u2/g3/1.webp", "");
	cr_assert_eq(storage_fs_put_batch(fs_root, o, 5), 0, "%s %s %s %s %s",
	    o[0].err.msg, o[1].err.msg, o[2].err.msg, o[3].err.msg,
	    o[4].err.msg);
	fs_assert_file("generations/u1/g1/0.png", "image one");
	fs_assert_file("generations/u1/g1/1.png", "image two");
	fs_assert_file("generations/u1/g2/0.png", "other generation");
	fs_assert_file("generations/u2/g3/0.jpg", "other user");
	fs_assert_file("generations/u2/g3/1.webp", "");
	cr_assert_eq(fs_temporaries("generations/u1/g1"), 0);
	cr_assert_eq(fs_temporaries("generations/u2/g3"), 0);
}

/* A batch larger than one run of open files is stored in several runs. */
Test(storage_fs, batch_larger_than_a_run)
{
	static struct storage_obj	 o[300];
	static char			 keys[300][64], data[300][24];
	int				 i;

	for (i = 0; i < 300; i++) {
		snprintf(keys[i], sizeof(keys[i]), "generations/u/g%d/%d.png",
		    i / 4, i % 4);
		snprintf(data[i], sizeof(data[i]), "bytes %d", i);
		fs_obj(&o[i], keys[i], data[i]);
	}
	cr_assert_eq(storage_fs_put_batch(fs_root, o, 300), 0);
	for (i = 0; i < 300; i++)
		fs_assert_file(keys[i], data[i]);
}

Test(storage_fs, retry_replaces_the_file_and_removes_stale_temporaries)
{
	struct storage_obj	 o;
	char			 stale[4096];
	int			 fd;

	fs_obj(&o, "generations/u/g/0.png", "first attempt");
	cr_assert_eq(storage_fs_put_batch(fs_root, &o, 1), 0);
	/* A writer killed between its open and its rename left this. */
	snprintf(stale, sizeof(stale), "%s/generations/u/g/0.png.tmp.999999",
	    fs_root);
	fd = open(stale, O_WRONLY | O_CREAT, 0644);
	cr_assert_neq(fd, -1);
	close(fd);
	cr_assert_eq(fs_temporaries("generations/u/g"), 1);

	fs_obj(&o, "generations/u/g/0.png", "second attempt");
	cr_assert_eq(storage_fs_put_batch(fs_root, &o, 1), 0);
	fs_assert_file("generations/u/g/0.png", "second attempt");
	cr_assert_eq(fs_temporaries("generations/u/g"), 0);
}

/* A path that cannot be made fails its object only, as retryable. */
Test(storage_fs, one_failure_fails_only_its_object)
{
	struct storage_obj	 o[3];
	char			 path[4096];
	int			 fd;

	snprintf(path, sizeof(path), "%s/generations", fs_root);
	cr_assert_eq(mkdir(path, 0755), 0);
	/* A regular file where the user's directory should be. */
	snprintf(path, sizeof(path), "%s/generations/blocked", fs_root);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	cr_assert_neq(fd, -1);
	close(fd);

	fs_obj(&o[0], "generations/u/g/0.png", "fine");
	fs_obj(&o[1], "generations/blocked/g/0.png", "cannot");
	fs_obj(&o[2], "generations/u/g/1.png", "fine too");
	cr_assert_eq(storage_fs_put_batch(fs_root, o, 3), 1);
	cr_assert_eq(o[0].failed, 0);
	cr_assert_eq(o[1].failed, 1);
	cr_assert_eq(o[1].err.code, IG_ETRANSIENT);
	cr_assert(strncmp(o[1].err.msg, "storage: ", 9) == 0, "%s",
	    o[1].err.msg);
	cr_assert_eq(o[2].failed, 0);
	fs_assert_file("generations/u/g/0.png", "fine");
	fs_assert_file("generations/u/g/1.png", "fine too");
	cr_assert_eq(fs_temporaries("generations/u/g"), 0);
}

/* The one-file call is a batch of one, with its error in err. */
Test(storage_fs, single_put_and_its_error)
{
	struct ig_err	 err = IG_ERR_INIT;
	char		 path[4096];
	int		 fd;

	cr_assert_eq(storage_fs_put(fs_root, "a/b/c/d/0.png", "deep", 4, &err),
	    0, "%s", err.msg);
	fs_assert_file("a/b/c/d/0.png", "deep");
	snprintf(path, sizeof(path), "%s/file", fs_root);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	cr_assert_neq(fd, -1);
	close(fd);
	cr_assert_eq(storage_fs_put(fs_root, "file/x/0.png", "no", 2, &err), -1);
	cr_assert_eq(err.code, IG_ETRANSIENT);
}

/* storage_put_batch: fs only, and never with an unsafe key. */
Test(storage_fs, put_batch_checks_backend_and_keys)
{
	struct config		 cfg;
	struct storage		*st;
	struct storage_obj	 o[2];
	struct ig_err		 err = IG_ERR_INIT;

	memset(&cfg, 0, sizeof(cfg));
	cfg.storage = "fs";
	cfg.fs_root = fs_root;
	cfg.public_base_url = "https://files.example";
	cr_assert_not_null(st = storage_new(&cfg, &err), "%s", err.msg);
	cr_assert(storage_batched(st));
	fs_obj(&o[0], "generations/u/g/0.png", "ok");
	fs_obj(&o[1], "generations/../../etc/passwd", "no");
	cr_assert_eq(storage_put_batch(st, o, 2), 1);
	cr_assert_eq(o[0].failed, 0);
	cr_assert_eq(o[1].failed, 1);
	cr_assert_eq(o[1].err.code, IG_EINTERNAL);
	fs_assert_file("generations/u/g/0.png", "ok");
	storage_free(st);

	cfg.storage = "s3";
	cr_assert_not_null(st = storage_new(&cfg, &err), "%s", err.msg);
	cr_assert(!storage_batched(st));
	storage_free(st);
}

Test(storage_fs, delete_removes_the_file_and_tolerates_a_missing_one)
{
	struct ig_err	 err = IG_ERR_INIT;
	char		 path[256];
	struct stat	 st;

	cr_assert_eq(storage_fs_put(fs_root, "g/u/x/0.png", "abc", 3, &err), 0,
	    "%s", err.msg);
	cr_assert_eq(storage_fs_delete(fs_root, "g/u/x/0.png", &err), 0, "%s",
	    err.msg);
	snprintf(path, sizeof(path), "%s/g/u/x/0.png", fs_root);
	cr_assert_eq(stat(path, &st), -1);
	/* Deleting twice (a retried discard) is not an error. */
	cr_assert_eq(storage_fs_delete(fs_root, "g/u/x/0.png", &err), 0, "%s",
	    err.msg);
	/* A name that cannot be unlinked is, and says which. */
	snprintf(path, sizeof(path), "%s/g/u/x/1.png", fs_root);
	cr_assert_eq(mkdir(path, 0755), 0);
	cr_assert_eq(storage_fs_delete(fs_root, "g/u/x/1.png", &err), -1);
	cr_assert(strstr(err.msg, "g/u/x/1.png") != NULL, "%s", err.msg);
}
