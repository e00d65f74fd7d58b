/* The program each layer_link_<folder> target links around one folder's whole library (see
 * tests/layering/CMakeLists.txt): it only has to link, never to run. */
int main(void)
{
    return 0;
}
